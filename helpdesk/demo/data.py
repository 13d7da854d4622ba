"""The demo organisation: the IT department of a Polish mobile operator ("Mobilnet").

Plain data only; :mod:`helpdesk.demo.organisation` turns it into rows (the tickets' texts
are in :mod:`tickets.demo.data`). Names of services and people are data, not interface
text, so they are not marked for translation.
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

# Polish names of the reference data above (shown to people who read Polish; the stored
# English name stays the key the demo and the API use). A name missing here is shown as is.
GROUP_NAMES_PL = {
    "Service Desk": "Service Desk",
    "Network Operations": "Zespół sieci",
    "Desktop Support": "Wsparcie stanowisk pracy",
    "Business Applications": "Aplikacje biznesowe",
    "Telephony & Contact Center": "Telefonia i contact center",
    "Identity & Access": "Tożsamość i uprawnienia",
}
SERVICE_NAMES_PL = {
    "E-mail (Exchange Online)": "Poczta e-mail (Exchange Online)",
    "Microsoft 365 & Teams": "Microsoft 365 i Teams",
    "SAP ERP (finance)": "SAP ERP (finanse)",
    "Billing (BSCS)": "Billing (BSCS)",
    "CRM (Salesforce)": "CRM (Salesforce)",
    "Intranet portal": "Portal intranetowy",
    "HR self-service": "Samoobsługa kadrowa",
    "Office LAN & Wi-Fi": "Sieć biurowa LAN i Wi-Fi",
    "VPN & remote access": "VPN i praca zdalna",
    "Internet access & proxy": "Dostęp do internetu i proxy",
    "Laptops & desktops": "Laptopy i komputery stacjonarne",
    "Printing & scanning": "Drukowanie i skanowanie",
    "Mobile devices (MDM)": "Urządzenia mobilne (MDM)",
    "Software installation": "Instalacja oprogramowania",
    "Desk phones": "Telefony biurkowe",
    "Contact center platform": "Platforma contact center",
    "Conference rooms & video": "Sale konferencyjne i wideo",
    "Accounts & passwords": "Konta i hasła",
    "Access rights": "Uprawnienia dostępu",
    "Building access cards": "Karty wstępu do budynków",
}
CATEGORY_NAMES_PL = {
    "Hardware": "Sprzęt",
    "Laptop": "Laptop",
    "Desktop": "Komputer stacjonarny",
    "Monitor": "Monitor",
    "Docking station": "Stacja dokująca",
    "Printer": "Drukarka",
    "Mobile phone": "Telefon komórkowy",
    "Software": "Oprogramowanie",
    "Installation": "Instalacja",
    "Error or crash": "Błąd lub awaria",
    "Licence": "Licencja",
    "Update": "Aktualizacja",
    "Network": "Sieć",
    "Wi-Fi": "Wi-Fi",
    "Wired LAN": "Sieć przewodowa",
    "VPN": "VPN",
    "Internet access": "Dostęp do internetu",
    "Accounts and access": "Konta i dostęp",
    "Password reset": "Reset hasła",
    "Account locked": "Zablokowane konto",
    "New account": "Nowe konto",
    "Access rights": "Uprawnienia",
    "Telephony": "Telefonia",
    "Desk phone": "Telefon biurkowy",
    "Voicemail": "Poczta głosowa",
    "Softphone": "Softphone",
    "Contact center": "Contact center",
    "Business applications": "Aplikacje biznesowe",
    "SAP": "SAP",
    "Billing": "Billing",
    "CRM": "CRM",
    "Intranet": "Intranet",
    "HR self-service": "Samoobsługa kadrowa",
    "E-mail and collaboration": "Poczta i współpraca",
    "Mailbox": "Skrzynka pocztowa",
    "Calendar": "Kalendarz",
    "Teams": "Teams",
    "Shared mailbox": "Skrzynka współdzielona",
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
