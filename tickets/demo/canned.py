"""The demo's canned replies: three everyday answers in English and Polish, for every group."""

from __future__ import annotations

from tickets.models import CannedReply

# (title, language, body): the texts as an agent would send them, with placeholders.
CANNED_REPLIES = [
    (
        "Password reset done",
        "en",
        "Hello {caller_first_name},\n\nyour password has been reset. You will be asked to "
        "choose a new one at your next sign-in.\n\nBest regards,\n{agent_name}\n{group_name}",
    ),
    (
        "We are looking into it",
        "en",
        "Hello {caller_first_name},\n\nthank you for reporting this. We are looking into "
        "ticket {ticket_number} ({ticket_title}) and will get back to you as soon as we know "
        "more.\n\nBest regards,\n{agent_name}",
    ),
    (
        "Please restart",
        "en",
        "Hello {caller_first_name},\n\nplease restart your computer and try again. If the "
        "problem comes back, reply to this message and quote {ticket_number}.\n\n"
        "Best regards,\n{agent_name}",
    ),
    (
        "Hasło zresetowane",
        "pl",
        "Dzień dobry {caller_name},\n\nhasło zostało zresetowane. Przy następnym logowaniu "
        "system poprosi o ustawienie nowego.\n\nPozdrawiam,\n{agent_name}\n{group_name}",
    ),
    (
        "Sprawdzamy zgłoszenie",
        "pl",
        "Dzień dobry {caller_name},\n\ndziękujemy za zgłoszenie. Zajmujemy się sprawą "
        "{ticket_number} ({ticket_title}) i odezwiemy się, gdy tylko będziemy wiedzieć "
        "więcej.\n\nPozdrawiam,\n{agent_name}",
    ),
    (
        "Prosimy o restart",
        "pl",
        "Dzień dobry {caller_name},\n\nprosimy o ponowne uruchomienie komputera i ponowną "
        "próbę. Jeśli problem wróci, prosimy o odpowiedź z numerem {ticket_number}.\n\n"
        "Pozdrawiam,\n{agent_name}",
    ),
]


def seed_canned_replies() -> int:
    """Create the demo's canned replies that do not exist yet (by title and language, for
    every group); an edited text is left as the admin changed it. Returns how many."""
    created = 0
    for title, language, body in CANNED_REPLIES:
        _reply, was_created = CannedReply.objects.get_or_create(
            title=title, language=language, group=None, defaults={"body": body}
        )
        created += was_created
    return created
