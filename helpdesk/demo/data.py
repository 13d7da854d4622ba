"""The demo organisation: the IT department of a Polish mobile operator ("Mobilnet").

Plain data only; :mod:`helpdesk.demo.organisation` and :mod:`helpdesk.demo.tickets` turn it
into rows. Names of services, people and ticket texts are data, not interface text, so they
are not marked for translation.
"""

from __future__ import annotations

EMAIL_DOMAIN = "mobilnet.example"
DEMO_PASSWORD = "demo"

# code, name, address, is_contact_center, desk prefix (area code + first digit)
SITES = [
    ("waw-hq", "Warszawa HQ", "ul. Marynarska 15, 02-674 Warszawa", False, "22 5"),
    ("krk-cc", "Kraków contact center", "ul. Lublańska 34, 31-476 Kraków", True, "12 3"),
    ("gdn-office", "Gdańsk office", "al. Grunwaldzka 472, 80-309 Gdańsk", False, "58 3"),
]

# code, name, tier, e-mail
GROUPS = [
    ("service-desk", "Service Desk", 1, "servicedesk"),
    ("network", "Network Operations", 2, "network"),
    ("desktop", "Desktop Support", 2, "desktop"),
    ("applications", "Business Applications", 2, "apps"),
    ("telephony", "Telephony & Contact Center", 2, "telephony"),
    ("access", "Identity & Access", 2, "access"),
]
FIRST_LINE = "service-desk"

# name, owner group code, criticality, description
SERVICES = [
    ("E-mail (Exchange Online)", "applications", "high", "Mailboxes, shared mailboxes, calendars."),
    ("Microsoft 365 & Teams", "applications", "high", "Office apps, Teams chat and meetings."),
    ("SAP ERP (finance)", "applications", "critical", "Finance, controlling and purchasing."),
    ("Billing (BSCS)", "applications", "critical", "Subscriber billing and invoicing."),
    ("CRM (Salesforce)", "applications", "critical", "Customer care and sales CRM."),
    ("Intranet portal", "applications", "medium", "Company news, forms, the IT portal."),
    ("HR self-service", "applications", "medium", "Leave, payslips and HR forms."),
    ("Office LAN & Wi-Fi", "network", "high", "Wired and wireless network in the offices."),
    ("VPN & remote access", "network", "high", "GlobalProtect VPN for remote work."),
    ("Internet access & proxy", "network", "medium", "Web access, proxy and URL filtering."),
    ("Laptops & desktops", "desktop", "medium", "Company computers, docking stations."),
    ("Printing & scanning", "desktop", "low", "Office printers and scanners."),
    ("Mobile devices (MDM)", "desktop", "medium", "Company phones and tablets (Intune)."),
    ("Software installation", "desktop", "low", "Catalogue software on request."),
    ("Desk phones", "telephony", "medium", "IP desk phones and voicemail."),
    ("Contact center platform", "telephony", "critical", "Queues, IVR and agent softphones."),
    ("Conference rooms & video", "telephony", "low", "Room systems and video conferencing."),
    ("Accounts & passwords", "access", "high", "Active Directory accounts, password resets."),
    ("Access rights", "access", "medium", "Application roles, shared folders, groups."),
    ("Building access cards", "access", "low", "Badges for the offices."),
]

# A two-level category tree: parent -> children.
CATEGORIES = {
    "Hardware": ["Laptop", "Desktop", "Monitor", "Docking station", "Printer", "Mobile phone"],
    "Software": ["Installation", "Error or crash", "Licence", "Update"],
    "Network": ["Wi-Fi", "Wired LAN", "VPN", "Internet access"],
    "Accounts and access": ["Password reset", "Account locked", "New account", "Access rights"],
    "Telephony": ["Desk phone", "Voicemail", "Softphone", "Contact center"],
    "Business applications": ["SAP", "Billing", "CRM", "Intranet", "HR self-service"],
    "E-mail and collaboration": ["Mailbox", "Calendar", "Teams", "Shared mailbox"],
}

DEPARTMENTS = [
    ("Customer Care", ["Customer care consultant", "Team leader", "Quality specialist"]),
    ("Sales", ["Key account manager", "Sales representative", "Sales analyst"]),
    ("Finance", ["Accountant", "Controller", "Financial analyst", "Chief accountant"]),
    ("Human Resources", ["HR business partner", "Payroll specialist", "Recruiter"]),
    ("Marketing", ["Product marketing manager", "Brand specialist", "Digital marketer"]),
    ("Network Engineering", ["Radio planning engineer", "Core network engineer", "NOC operator"]),
    ("Legal", ["Legal counsel", "Compliance officer"]),
    ("Procurement", ["Buyer", "Procurement specialist"]),
    ("Logistics", ["Warehouse coordinator", "Logistics specialist"]),
    ("Management Board", ["Member of the board", "Executive assistant", "Director"]),
    ("IT", ["IT specialist", "System administrator", "Project manager"]),
]
# Departments whose heads are VIPs, and job titles that make anyone a VIP.
VIP_TITLES = {"Member of the board", "Director", "Chief accountant"}

MALE_FIRST = [
    "Jan", "Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał", "Marcin", "Marek",
    "Grzegorz", "Adam", "Łukasz", "Zbigniew", "Jerzy", "Tadeusz", "Mateusz", "Dariusz",
    "Mariusz", "Wojciech", "Rafał", "Jakub", "Kamil", "Maciej", "Robert", "Sebastian",
    "Bartosz", "Damian", "Szymon", "Filip", "Artur",
]  # fmt: skip
FEMALE_FIRST = [
    "Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Krystyna",
    "Magdalena", "Elżbieta", "Joanna", "Aleksandra", "Monika", "Zofia", "Teresa", "Danuta",
    "Natalia", "Karolina", "Marta", "Beata", "Dorota", "Justyna", "Paulina", "Agata",
    "Weronika", "Julia", "Iwona", "Renata", "Sylwia", "Emilia",
]  # fmt: skip
# Surnames as the male form; -ski/-cki/-dzki take -ska/-cka/-dzka for women.
SURNAMES = [
    "Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
    "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur",
    "Wojciechowski", "Kwiatkowski", "Krawczyk", "Kaczmarek", "Piotrowski", "Grabowski",
    "Zając", "Pawłowski", "Michalski", "Król", "Wieczorek", "Jabłoński", "Wróbel", "Nowakowski",
    "Majewski", "Olszewski", "Stępień", "Malinowski", "Jaworski", "Adamczyk", "Dudek",
    "Nowicki", "Pawlak", "Górski", "Witkowski", "Walczak", "Sikora", "Baran", "Rutkowski",
    "Michalak", "Szewczyk", "Ostrowski", "Tomaszewski", "Pietrzak", "Marciniak", "Wróblewski",
    "Zalewski", "Jakubowski", "Jasiński", "Zawadzki", "Sadowski", "Bąk", "Chmielewski",
    "Włodarczyk", "Borkowski", "Czarnecki", "Sawicki", "Sokołowski", "Urbański", "Kubiak",
    "Maciejewski", "Szczepański", "Kucharski", "Wilk", "Kalinowski", "Lis",
]  # fmt: skip

_ASCII = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


def ascii_fold(text: str) -> str:
    """``Wiśniewska`` -> ``Wisniewska`` (for logins and e-mail addresses)."""
    return text.translate(_ASCII)


def female_surname(surname: str) -> str:
    for ending in ("ski", "cki", "dzki"):
        if surname.endswith(ending):
            return surname[:-1] + "a"
    return surname


# The staff with logins. Stable usernames: the README and the tests sign in with them.
# username, full name, role, group code (or None), job title, site code, extension
STAFF = [
    ("admin", "Adam Administrator", "administrator", None, "IT administrator", "waw-hq", "1000"),
    ("agent", "Anna Nowak", "first_line_agent", "service-desk", "Service desk agent",
     "krk-cc", "2001"),
    ("agent2", "Piotr Zieliński", "first_line_agent", "service-desk", "Service desk agent",
     "krk-cc", "2002"),
    ("agent3", "Karolina Mazur", "first_line_agent", "service-desk", "Service desk agent",
     "krk-cc", "2003"),
    ("agent4", "Bartosz Wróbel", "first_line_agent", "service-desk", "Service desk agent",
     "gdn-office", "2004"),
    ("engineer", "Tomasz Kamiński", "resolver_engineer", "network", "Network engineer",
     "waw-hq", "3001"),
    ("engineer.network2", "Rafał Kubiak", "resolver_engineer", "network", "Network engineer",
     "gdn-office", "3002"),
    ("engineer.desktop", "Magdalena Wójcik", "resolver_engineer", "desktop",
     "Desktop support engineer", "waw-hq", "3101"),
    ("engineer.desktop2", "Kamil Sikora", "resolver_engineer", "desktop",
     "Desktop support engineer", "krk-cc", "3102"),
    ("engineer.apps", "Joanna Lewandowska", "resolver_engineer", "applications",
     "Application analyst", "waw-hq", "3201"),
    ("engineer.apps2", "Marcin Dudek", "resolver_engineer", "applications", "SAP consultant",
     "waw-hq", "3202"),
    ("engineer.telephony", "Grzegorz Baran", "resolver_engineer", "telephony",
     "Telephony engineer", "krk-cc", "3301"),
    ("engineer.access", "Ewa Jabłońska", "resolver_engineer", "access", "IAM specialist",
     "waw-hq", "3401"),
    ("cab", "Krzysztof Wiśniewski", "change_board", None, "Head of IT architecture",
     "waw-hq", "1100"),
    ("manager", "Małgorzata Dąbrowska", "manager", "service-desk", "Service desk manager",
     "krk-cc", "2000"),
]  # fmt: skip

# The end user every demo shows: has a login and several tickets.
DEMO_END_USER = ("jan.kowalski", "Jan Kowalski", "Sales", "Key account manager", "waw-hq")
# How many of the generated people also get a login (end-user role).
END_USERS_WITH_LOGIN = 40

# Ticket scenarios: (type, service, category path, title, description).
# "incident" or "request"; the service decides the resolver group.
SCENARIOS = [
    ("incident", "Accounts & passwords", "Accounts and access / Account locked",
     "Account locked after password change",
     "I changed my password this morning and now Windows says my account is locked."),
    ("request", "Accounts & passwords", "Accounts and access / Password reset",
     "Password reset for SAP and Windows",
     "I forgot my password after holiday, please reset it."),
    ("request", "Access rights", "Accounts and access / Access rights",
     "Access to the Finance shared folder",
     "Please give me read access to \\\\fs01\\finance\\reports, approved by my manager."),
    ("request", "Accounts & passwords", "Accounts and access / New account",
     "New employee starting Monday",
     "A new consultant joins my team on Monday; please create an account and mailbox."),
    ("incident", "E-mail (Exchange Online)", "E-mail and collaboration / Mailbox",
     "Outlook keeps asking for password",
     "Outlook shows the credentials prompt every few minutes since yesterday."),
    ("incident", "E-mail (Exchange Online)", "E-mail and collaboration / Shared mailbox",
     "Cannot send from the shared mailbox",
     "Sending as reklamacje@ fails with 'You don't have permission'."),
    ("incident", "Microsoft 365 & Teams", "E-mail and collaboration / Teams",
     "No sound in Teams meetings",
     "Other participants cannot hear me in Teams; the headset works in other apps."),
    ("incident", "Microsoft 365 & Teams", "E-mail and collaboration / Calendar",
     "Meeting room not visible in calendar",
     "Room WAW-3.14 does not show up when I book a meeting."),
    ("incident", "SAP ERP (finance)", "Business applications / SAP",
     "SAP transaction FB60 ends with a short dump",
     "Posting a vendor invoice in FB60 ends with a runtime error."),
    ("request", "SAP ERP (finance)", "Business applications / SAP",
     "SAP role for purchase order approval",
     "I need the approver role for purchase orders in cost centre 4410."),
    ("incident", "Billing (BSCS)", "Business applications / Billing",
     "Billing report for October is empty",
     "The monthly revenue report in BSCS returns no rows for October."),
    ("incident", "CRM (Salesforce)", "Business applications / CRM",
     "CRM very slow when opening customer cards",
     "Opening a customer card takes more than 30 seconds; the whole team is affected."),
    ("incident", "CRM (Salesforce)", "Business applications / CRM",
     "Cannot log in to Salesforce (SSO error)",
     "SSO login to CRM ends with 'invalid assertion'."),
    ("incident", "Intranet portal", "Business applications / Intranet",
     "Intranet search returns nothing", "Searching the intranet returns no results at all."),
    ("request", "HR self-service", "Business applications / HR self-service",
     "Leave request form does not show my manager",
     "The HR portal shows my previous manager as approver."),
    ("incident", "Office LAN & Wi-Fi", "Network / Wi-Fi",
     "Wi-Fi drops on the 4th floor",
     "The corporate Wi-Fi disconnects every few minutes near the kitchen on floor 4."),
    ("incident", "Office LAN & Wi-Fi", "Network / Wired LAN",
     "No network at desk 2.117", "The network port at my desk does not work, no link light."),
    ("incident", "VPN & remote access", "Network / VPN",
     "VPN connects but no intranet",
     "GlobalProtect says connected, but I cannot open any internal page."),
    ("incident", "VPN & remote access", "Network / VPN",
     "VPN certificate expired", "VPN client says my certificate expired."),
    ("incident", "Internet access & proxy", "Network / Internet access",
     "Supplier website blocked by proxy",
     "The supplier portal is blocked as 'uncategorised'; we need it for orders."),
    ("incident", "Laptops & desktops", "Hardware / Laptop",
     "Laptop battery drains in an hour", "The battery of my laptop lasts about an hour."),
    ("incident", "Laptops & desktops", "Hardware / Docking station",
     "Second monitor not detected on the dock",
     "The docking station only shows one of my two monitors."),
    ("request", "Laptops & desktops", "Hardware / Monitor",
     "Request for a second monitor", "Please provide a second 24\" monitor for my desk."),
    ("incident", "Laptops & desktops", "Hardware / Laptop",
     "Blue screen after Windows update",
     "My laptop shows a blue screen after last night's update."),
    ("incident", "Printing & scanning", "Hardware / Printer",
     "Printer on floor 3 does not print",
     "Jobs stay in the queue of PRN-WAW-3A; paper and toner are fine."),
    ("incident", "Printing & scanning", "Hardware / Printer",
     "Scan to e-mail not working", "Scanning to e-mail on the Gdańsk printer sends nothing."),
    ("incident", "Mobile devices (MDM)", "Hardware / Mobile phone",
     "Company phone does not sync mail", "Outlook on my company phone stopped syncing."),
    ("request", "Mobile devices (MDM)", "Hardware / Mobile phone",
     "New company phone", "My phone screen is broken, please replace the device."),
    ("request", "Software installation", "Software / Installation",
     "Install Power BI Desktop", "Please install Power BI Desktop for monthly reporting."),
    ("incident", "Software installation", "Software / Error or crash",
     "Excel crashes when opening large files",
     "Excel closes without a message when I open the sales forecast file."),
    ("request", "Software installation", "Software / Licence",
     "Visio licence", "I need a Visio licence for process diagrams."),
    ("incident", "Desk phones", "Telephony / Desk phone",
     "Desk phone shows 'No service'", "My IP phone shows 'No service' since this morning."),
    ("incident", "Desk phones", "Telephony / Voicemail",
     "Cannot access voicemail", "The voicemail PIN is not accepted."),
    ("incident", "Contact center platform", "Telephony / Contact center",
     "Softphone disconnects during calls",
     "Calls drop after about 10 minutes in the contact center softphone."),
    ("incident", "Contact center platform", "Telephony / Softphone",
     "Agents cannot log in to the queue",
     "Several agents in Kraków cannot log in to the customer care queue."),
    ("incident", "Conference rooms & video", "Telephony / Desk phone",
     "Video system in room GDN-1.02 has no picture",
     "The room camera shows a black screen in Teams meetings."),
    ("request", "Building access cards", "Accounts and access / Access rights",
     "Access card for the Gdańsk office",
     "I am moving to Gdańsk for a project, please enable my card there."),
    ("request", "Access rights", "Accounts and access / Access rights",
     "Access to the billing reports in BSCS",
     "I need read access to billing reports for the audit."),
]  # fmt: skip

FIRST_RESPONSES = [
    "Thank you, we are looking into it.",
    "Thanks for reporting this. Could you tell us when it started?",
    "We have received your request and will handle it today.",
    "Could you send a screenshot of the error message?",
    "Please restart the device and tell us whether the problem persists.",
]
USER_REPLIES = [
    "It started yesterday afternoon.",
    "I restarted it, still the same.",
    "Screenshot attached to the e-mail, thanks.",
    "It is urgent, I have a customer meeting at 14:00.",
    "Colleagues next to me have the same problem.",
    "Thank you, it works now.",
]
WORK_NOTES = [
    "Checked the logs, nothing obvious on the client side.",
    "Reproduced on a test account.",
    "Called the user, remote session done, cache cleared.",
    "Vendor ticket opened, waiting for their reply.",
    "Known issue, see the problem record for the workaround.",
    "Checked AD: account replicated, password policy fine.",
]
DIAGNOSTICS = [
    "Restarted the device, cleared the cache and checked the account in AD. "
    "Problem persists; needs second line.",
    "Reproduced while on the phone with the user. Other users on the same site affected.",
    "Network cable and port checked, the user tried another desk: same error.",
    "Reinstalled the client, error remains. Logs attached to the work note.",
]
PENDING_NOTES = {
    "user": "Waiting for the user to confirm after the weekend.",
    "third_party": "Waiting for the vendor's answer.",
    "change": "Fix planned in the next change window.",
    "other": "Waiting for the user's manager to approve.",
}
RESOLUTIONS = {
    "solved": "Configuration fixed and tested with the user.",
    "workaround": "Workaround applied; the permanent fix follows in a change.",
    "user_instructed": "Explained to the user how to do it; user confirmed.",
    "not_reproducible": "Could not reproduce; works for the user now.",
    "duplicate": "Duplicate of an existing ticket for the same outage.",
    "fulfilled": "Request fulfilled as asked.",
    "no_response": "No response from the user after two reminders.",
}
CANCEL_REASONS = [
    "Raised by mistake.",
    "The user solved it themselves.",
    "Duplicate of a ticket raised by a colleague.",
]
