"""The shape of data set M: its sizes and every distribution the generator draws from.

Kept apart from the code so that what M looks like can be read, and argued about, in one
place. Weights are relative (they need not add up to 100). Geography comes from the seed
gazetteer; the ids here must exist in it (the generator fails loudly otherwise).
"""

from __future__ import annotations

from graph.organisations import OrganisationKind
from graph.services import Capacity, DeliveryMode, ReturnType, ServiceStatus

SOURCE = "bench: synthetic data set M"

# Sizes of M at scale 1. The gazetteer and the taxonomy do not scale: they are what queries
# resolve places and needs against, and small.
M_ORGANISATIONS = 20_000
M_SERVICES = 100_000
M_REFERRALS = 200_000
M_AREAS = 2_000
SENDING_SHARE = 0.10  # organisations in host countries: counsellors who send referrals
DUPLICATE_SHARE = 0.015  # receiving organisations entered a second time
DORMANT_SHARE = 0.03  # organisations that exist on paper only: all services inactive/defunct

SETTLEMENT_RADIUS_KM = 10.0
SITE_RADIUS_KM = 3.0
# Exponent of the Zipf-like weight 1/rank^s of towns within a country.
TOWN_ZIPF = 1.1
SETTLEMENT_ZIPF = 0.6

# --- the geography of the field ------------------------------------------------------------

# Where receiving organisations are (countries of origin), relative weights.
ORIGIN_SHARES = {
    "XK": 22, "AL": 14, "RS": 12, "IQ": 10, "NG": 7, "MD": 6, "MK": 5, "BA": 5, "GE": 4,
    "AF": 3, "GH": 3, "SN": 2, "SY": 2, "IR": 2, "ME": 2, "GM": 1,
}  # fmt: skip
# Where sending organisations are (host countries).
SENDING_SHARES = {
    "DE": 45, "AT": 10, "DK": 8, "CH": 8, "NL": 7, "SE": 6, "BE": 6, "NO": 4, "FR": 3,
    "IT": 2, "GB": 1,
}  # fmt: skip
# How the synthetic settlements are shared between the countries of origin.
SETTLEMENT_SHARES = {
    "XK": 600, "AL": 200, "RS": 200, "IQ": 150, "MD": 100, "MK": 80, "NG": 80, "BA": 60,
    "GE": 40, "AF": 40, "ME": 30, "SY": 30, "GH": 30, "IR": 20, "SN": 20, "GM": 10,
}  # fmt: skip

# Capitals and big towns first; the other towns of a country follow in gazetteer order.
BIG_TOWNS: dict[str, tuple[str, ...]] = {
    "XK": (
        "XK-prishtine", "XK-prizren", "XK-ferizaj", "XK-peje", "XK-gjakove", "XK-gjilan",
        "XK-mitrovice-e-jugut", "XK-podujeve", "XK-vushtrri", "XK-suhareke", "XK-rahovec",
        "XK-drenas", "XK-lipjan", "XK-malisheve", "XK-skenderaj", "XK-kamenice", "XK-viti",
        "XK-fushe-kosove", "XK-istog", "XK-decan", "XK-kline", "XK-dragash", "XK-kacanik",
    ),
    "AL": ("AL-11", "AL-02", "AL-04", "AL-03", "AL-10", "AL-12", "AL-06", "AL-01"),
    "RS": (
        "RS-00", "RS-novi-sad", "RS-nis", "RS-kragujevac", "RS-novi-pazar", "RS-leskovac",
        "RS-vranje", "RS-presevo", "RS-bujanovac", "RS-medvedja",
    ),
    "MK": ("MK-skopje", "MK-polog", "MK-pelagonia", "MK-southwest", "MK-east"),
    "BA": ("BA-BIH", "BA-SRP", "BA-BRC"),
    "MD": ("MD-CU", "MD-BA", "MD-GA", "MD-CA", "MD-OR", "MD-UN", "MD-SO"),
    "IQ": ("IQ-AR", "IQ-BG", "IQ-SU", "IQ-DA", "IQ-NI", "IQ-BA", "IQ-KI", "IQ-halabja"),
    "NG": ("NG-lagos", "NG-FC", "NG-benin-city", "NG-KN", "NG-OY", "NG-RI", "NG-DE"),
    "GH": ("GH-AA", "GH-AH", "GH-CP", "GH-WP", "GH-NP"),
    "GM": ("GM-kanifing", "GM-B", "GM-W"),
    "SN": ("SN-DK", "SN-TH", "SN-DB", "SN-SL", "SN-KL"),
    "DE": ("DE-BE", "DE-BY", "DE-NW", "DE-BW", "DE-HE", "DE-HH", "DE-NI", "DE-SN"),
    "AT": ("AT-9", "AT-6", "AT-4", "AT-3", "AT-5", "AT-7"),
    "DK": ("DK-84", "DK-82", "DK-83", "DK-85", "DK-81"),
    "CH": ("CH-ZH", "CH-BE", "CH-GE", "CH-VD", "CH-BS", "CH-SG"),
    "SE": ("SE-AB", "SE-O", "SE-M", "SE-C"),
    "BE": ("BE-BRU", "BE-VAN", "BE-WLG", "BE-VOV", "BE-WHT"),
    "NL": ("NL-NH", "NL-ZH", "NL-UT", "NL-NB", "NL-GE"),
    "NO": ("NO-03", "NO-46", "NO-11", "NO-50"),
}  # fmt: skip
# Names of the town a region stands for, where the region's name is not the town's.
TOWN_NAMES = {
    "AL-11": "Tirana", "RS-00": "Belgrade", "NG-FC": "Abuja", "GH-AA": "Accra",
    "GM-B": "Banjul", "GM-kanifing": "Serekunda", "IQ-BG": "Baghdad", "IQ-AR": "Erbil",
    "IQ-SU": "Sulaymaniyah", "IQ-DA": "Duhok", "IQ-NI": "Mosul", "IQ-BA": "Basra",
    "BA-BIH": "Sarajevo", "BA-SRP": "Banja Luka", "BA-BRC": "Brčko", "MK-polog": "Tetovo",
    "MK-pelagonia": "Bitola", "MK-southwest": "Ohrid", "MK-east": "Štip", "NG-KN": "Kano",
    "NG-OY": "Ibadan", "NG-RI": "Port Harcourt", "GH-AH": "Kumasi", "SN-DK": "Dakar",
    "SN-TH": "Thiès",
}  # fmt: skip
REGION_SUFFIXES = (
    " Statistical Region", " County", " Governorate", " District", " State", " Region",
    " Municipality",
)  # fmt: skip

PHONE_CODES = {
    "XK": "383", "AL": "355", "RS": "381", "MK": "389", "BA": "387", "ME": "382", "MD": "373",
    "GE": "995", "IQ": "964", "AF": "93", "SY": "963", "IR": "98", "NG": "234", "GH": "233",
    "GM": "220", "SN": "221", "DE": "49", "DK": "45", "AT": "43", "SE": "46", "CH": "41",
    "BE": "32", "NL": "31", "NO": "47", "FR": "33", "IT": "39", "GB": "44",
}  # fmt: skip

# Languages a service works in, by country: (ISO 639 code, probability); the first is always
# spoken. Services in Iraq's Kurdistan Region speak Kurdish first.
LANGUAGES: dict[str, tuple[tuple[str, float], ...]] = {
    "XK": (("sq", 1), ("sr", 0.2), ("en", 0.4), ("de", 0.3), ("tr", 0.04), ("rom", 0.05)),
    "AL": (("sq", 1), ("en", 0.4), ("de", 0.2), ("it", 0.2)),
    "RS": (("sr", 1), ("en", 0.4), ("de", 0.2), ("sq", 0.08), ("rom", 0.05)),
    "MK": (("mk", 1), ("sq", 0.4), ("en", 0.4), ("de", 0.1)),
    "BA": (("bs", 1), ("sr", 0.3), ("hr", 0.2), ("en", 0.4), ("de", 0.3)),
    "ME": (("sr", 1), ("sq", 0.15), ("en", 0.4)),
    "MD": (("ro", 1), ("ru", 0.5), ("en", 0.3)),
    "GE": (("ka", 1), ("ru", 0.4), ("en", 0.4)),
    "IQ": (("ar", 1), ("ku", 0.3), ("en", 0.4), ("de", 0.1)),
    "IQ-KR": (("ku", 1), ("ar", 0.6), ("en", 0.4), ("de", 0.15)),
    "AF": (("fa", 1), ("ps", 0.5), ("en", 0.3)),
    "SY": (("ar", 1), ("ku", 0.2), ("en", 0.3)),
    "IR": (("fa", 1), ("en", 0.3)),
    "NG": (("en", 1), ("yo", 0.3), ("ig", 0.2), ("ha", 0.2)),
    "GH": (("en", 1), ("ak", 0.4)),
    "GM": (("en", 1), ("wo", 0.5)),
    "SN": (("fr", 1), ("wo", 0.6), ("en", 0.2)),
    "DE": (("de", 1), ("en", 0.6), ("ar", 0.2), ("sq", 0.15), ("fa", 0.1), ("ru", 0.1)),
    "AT": (("de", 1), ("en", 0.6), ("ar", 0.15), ("fa", 0.15)),
    "DK": (("da", 1), ("en", 0.8), ("ar", 0.15)),
    "CH": (("de", 1), ("fr", 0.4), ("en", 0.6), ("sq", 0.1)),
    "SE": (("sv", 1), ("en", 0.8), ("ar", 0.2)),
    "BE": (("nl", 1), ("fr", 0.7), ("en", 0.6)),
    "NL": (("nl", 1), ("en", 0.8), ("ar", 0.15)),
    "NO": (("no", 1), ("en", 0.8)),
    "FR": (("fr", 1), ("en", 0.5), ("ar", 0.2)),
    "IT": (("it", 1), ("en", 0.5)),
    "GB": (("en", 1), ("ar", 0.2)),
}


# Syllables of synthetic place names: plausible, never a real place on purpose, and always
# followed by "(synthetic)".
def _parts(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


SYLLABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "balkan": (
        _parts(
            "Bre|Dob|Gor|Kra|Lip|Mal|Nov|Pod|Rad|Sel|Vel|Zab|Ban|Dra|Gra|Kos|Luk|Mir|Ost|Ples|"
            "Rug|Stan|Tre|Vra|Bel|Cer|Dub|Gje|Hoç|Jab|Kiç|Llap|Mus|Osh|Shal|Zhur"
        ),
        _parts("|a|e|i|o|ov|an|ish"),
        _parts("vo|vë|nik|ica|ane|ovac|ajë|ishtë|evo|inë|ec|aj|ak|ovë|iq|ie|ot"),
    ),
    "md": (
        _parts("Băl|Cor|Dum|Flo|Găl|Hân|Măr|Nis|Oc|Pâr|Răz|Stru|Tel|Vad|Zăr|Cio|Lun|Bur"),
        _parts("|a|e|i|u"),
        _parts("eni|ești|ița|ăuți|ceni|ova|ani|ișa"),
    ),
    "mena": (
        _parts("Al-|Tell |Kani |Qal'at |Deh |Bir |Ain |Kafr |Sar |Shah "),
        _parts("Ras|Ham|Zar|Kar|Mar|Naw|Bak|Sul|Dar|Har|Jab|Qas"),
        _parts("a|ad|ani|ah|abad|iya|an|ur|ik|ash"),
    ),
    "west-africa": (
        _parts("Ile-|Oba|Aba|Ogbo|Kum|Nkwa|Sere|Ndi|Daga|Tou|Keur |Afa|Ebu|Iko"),
        _parts("|ka|ro|mo|ba|de|la"),
        _parts("ye|ji|nu|wa|si|ko|ba|ne|tou|mbo"),
    ),
    "caucasus": (
        _parts("Tsi|Mar|Kva|Ach|Zug|Gur|Sach|Tel|Bor|Khev"),
        _parts("|a|i|o"),
        _parts("eti|ani|uri|ali|dzi|svi|ula"),
    ),
}
NAME_STYLE = {
    "MD": "md", "IQ": "mena", "SY": "mena", "IR": "mena", "AF": "mena", "NG": "west-africa",
    "GH": "west-africa", "GM": "west-africa", "SN": "west-africa", "GE": "caucasus",
}  # fmt: skip

# --- organisations -------------------------------------------------------------------------

RECEIVING_KINDS = {
    OrganisationKind.NGO: 42, OrganisationKind.MUNICIPAL_OFFICE: 10,
    OrganisationKind.SOCIAL_WORK_CENTRE: 8, OrganisationKind.HEALTH_PROVIDER: 10,
    OrganisationKind.EMPLOYMENT_AGENCY: 6, OrganisationKind.EMPLOYER: 9,
    OrganisationKind.GOVERNMENT: 4, OrganisationKind.INTERNATIONAL_ORGANISATION: 3,
    OrganisationKind.LIAISON_OFFICE: 2, OrganisationKind.NETWORK: 2, OrganisationKind.OTHER: 4,
}  # fmt: skip
SENDING_KINDS = {
    OrganisationKind.NGO: 50, OrganisationKind.GOVERNMENT: 25,
    OrganisationKind.INTERNATIONAL_ORGANISATION: 10, OrganisationKind.LIAISON_OFFICE: 5,
    OrganisationKind.NETWORK: 5, OrganisationKind.OTHER: 5,
}  # fmt: skip
# Kinds that sit in the capital or a big town most of the time.
CAPITAL_KINDS = {
    OrganisationKind.GOVERNMENT, OrganisationKind.INTERNATIONAL_ORGANISATION,
    OrganisationKind.NETWORK,
}  # fmt: skip
KIND_NAMES = {
    OrganisationKind.NGO: "NGO", OrganisationKind.MUNICIPAL_OFFICE: "Municipal Office for Returns",
    OrganisationKind.SOCIAL_WORK_CENTRE: "Social Work Centre",
    OrganisationKind.HEALTH_PROVIDER: "Health Centre",
    OrganisationKind.EMPLOYMENT_AGENCY: "Employment Office", OrganisationKind.EMPLOYER: "Employer",
    OrganisationKind.GOVERNMENT: "Government Office",
    OrganisationKind.INTERNATIONAL_ORGANISATION: "International Mission",
    OrganisationKind.LIAISON_OFFICE: "Liaison Office", OrganisationKind.NETWORK: "Network",
    OrganisationKind.OTHER: "Association",
}  # fmt: skip
SENDING_KIND_NAMES = KIND_NAMES | {
    OrganisationKind.NGO: "Return Counselling Centre",
    OrganisationKind.GOVERNMENT: "Immigration Authority",
}
KIND_ABBREVIATIONS = {
    OrganisationKind.NGO: "N", OrganisationKind.MUNICIPAL_OFFICE: "MOR",
    OrganisationKind.SOCIAL_WORK_CENTRE: "SWC", OrganisationKind.HEALTH_PROVIDER: "HC",
    OrganisationKind.EMPLOYMENT_AGENCY: "EO", OrganisationKind.EMPLOYER: "E",
    OrganisationKind.GOVERNMENT: "GO", OrganisationKind.INTERNATIONAL_ORGANISATION: "IM",
    OrganisationKind.LIAISON_OFFICE: "LO", OrganisationKind.NETWORK: "NW",
    OrganisationKind.OTHER: "A",
}  # fmt: skip
# How a planted duplicate betrays itself (what a duplicate check can find).
DUPLICATE_EVIDENCE = ("name spelling", "acronym", "website", "phone", "email")

# Services per receiving organisation (1-15) and per sending organisation (1-3); the totals
# are then adjusted to the exact size of M.
RECEIVING_SERVICE_COUNTS = {
    1: 12, 2: 14, 3: 14, 4: 13, 5: 11, 6: 9, 7: 7, 8: 6, 9: 4, 10: 3, 11: 2.5, 12: 2,
    13: 1.5, 14: 1.2, 15: 1,
}  # fmt: skip
SENDING_SERVICE_COUNTS = {1: 5, 2: 3, 3: 2}

# --- needs and target groups ---------------------------------------------------------------

# Needs are drawn in two steps: a family (a top-level term), then a term within it.
FAMILY_WEIGHTS = {
    "employment": 20, "psychosocial": 12, "housing": 12, "documents": 10, "health": 8,
    "education": 6, "social-assistance": 6, "legal-counselling": 5, "municipal-services": 4,
    "information-outreach": 3, "return-counselling": 3, "arrival-reception": 3,
    "needs-assessment": 3, "humanitarian-support": 3, "temporary-accommodation": 3,
    "youth-social-activities": 2, "reconciliation": 2, "monitoring": 2,
    "country-information": 1,
}  # fmt: skip
CODE_WEIGHTS: dict[str, dict[str, float]] = {
    "employment": {
        "employment": 3, "employment.job-placement": 8, "employment.vocational-training": 6,
        "employment.business-start-up": 5, "employment.wage-subsidy": 3,
        "employment.micro-credit": 2, "employment.career-guidance": 3,
    },
    "psychosocial": {
        "psychosocial": 3, "psychosocial.counselling": 6, "psychosocial.trauma-therapy": 4,
    },
    "housing": {"housing": 3, "housing.reconstruction": 4, "housing.social-housing": 3},
    "documents": {
        "documents": 3, "documents.civil-registration": 5, "documents.diplomas": 2,
        "documents.recognition": 2, "documents.medical-records": 1,
    },
    "health": {"health": 1, "health.medical-care": 3, "health.medicine": 2},
    "education": {
        "education": 1, "education.schooling": 2, "education.language-classes": 2,
        "education.catch-up-classes": 1, "education.preschool": 1,
    },
    "legal-counselling": {"legal-counselling": 2, "legal-counselling.property-rights": 1},
}  # fmt: skip
# What each kind of organisation mostly does: multipliers of the family weights.
KIND_FOCUS: dict[OrganisationKind, dict[str, float]] = {
    OrganisationKind.EMPLOYMENT_AGENCY: {"employment": 8},
    OrganisationKind.EMPLOYER: {"employment": 10},
    OrganisationKind.HEALTH_PROVIDER: {"health": 8, "psychosocial": 5},
    OrganisationKind.SOCIAL_WORK_CENTRE: {
        "social-assistance": 6, "psychosocial": 3, "humanitarian-support": 2,
    },
    OrganisationKind.MUNICIPAL_OFFICE: {"municipal-services": 6, "documents": 4, "housing": 3},
    OrganisationKind.GOVERNMENT: {"documents": 3, "housing": 2, "social-assistance": 2},
    OrganisationKind.LIAISON_OFFICE: {
        "arrival-reception": 4, "information-outreach": 4, "return-counselling": 3,
    },
    OrganisationKind.NETWORK: {"information-outreach": 3, "monitoring": 3},
}  # fmt: skip
# Sending organisations offer only what happens before departure.
SENDING_FAMILIES = {
    "return-counselling": 10, "country-information": 8, "legal-counselling": 3,
    "information-outreach": 3, "needs-assessment": 2,
}  # fmt: skip
NEED_COUNTS = {1: 45, 2: 30, 3: 17, 4: 8}
TARGET_GROUP_COUNTS = {0: 35, 1: 30, 2: 20, 3: 15}
TARGET_GROUP_WEIGHTS = {
    "forced-returnees": 8, "families-small-children": 7, "rae": 6, "children-youth": 6,
    "single-women-widows": 4, "chronically-ill": 4, "disabilities": 4,
    "trauma-torture-survivors": 4, "elderly": 3, "minorities": 4, "unaccompanied-children": 2,
    "without-property-documents": 3, "receiving-community": 3,
}  # fmt: skip
SERVICE_NAME_ENDINGS = ("", " for returnees", " programme", " support", " service", " desk")

# --- services ------------------------------------------------------------------------------

STATUS_WEIGHTS = {
    ServiceStatus.ACTIVE: 84, ServiceStatus.TEMPORARILY_CLOSED: 5, ServiceStatus.INACTIVE: 7,
    ServiceStatus.DEFUNCT: 4,
}  # fmt: skip
DELIVERY_WEIGHTS: dict[tuple[DeliveryMode, ...], float] = {
    (DeliveryMode.IN_PERSON,): 70,
    (DeliveryMode.IN_PERSON, DeliveryMode.REMOTE): 15,
    (DeliveryMode.REMOTE,): 5,
    (DeliveryMode.IN_PERSON, DeliveryMode.OUTREACH): 6,
    (DeliveryMode.OUTREACH,): 4,
}
# None: the service never said (read back as "unknown" without a date).
CAPACITY_WEIGHTS: dict[Capacity | None, float] = {
    Capacity.AVAILABLE: 40, Capacity.LIMITED: 28, Capacity.FULL: 10, Capacity.UNKNOWN: 10,
    None: 12,
}  # fmt: skip
RETURN_TYPE_RESTRICTIONS = (
    (ReturnType.VOLUNTARY,),
    (ReturnType.VOLUNTARY, ReturnType.MANDATORY),
    (ReturnType.FORCED, ReturnType.MANDATORY),
)
# Programmes bound to one country of origin; the others fund services anywhere.
PROGRAMME_COUNTRIES = {
    "prog-kosovo-reintegration": "XK", "prog-ura": "XK", "prog-pare-1-1": "MD",
}  # fmt: skip
REFERRAL_METHODS = (
    "Referral by e-mail with a signed consent form",
    "Phone call first, then a written referral",
    "Through Homeward",
    "Walk-in; a referral letter is welcome",
)
NEVER_VERIFIED_SHARE = 0.15
VERIFIED_WITHIN_DAYS = 730
RESTRICTED_SENDING_SHARE = 0.10
RESTRICTED_RETURN_TYPE_SHARE = 0.08
FUNDED_SHARE = 0.15

# --- referrals -----------------------------------------------------------------------------

REFERRALS_WITHIN_DAYS = 730
UNUSED_SERVICE_SHARE = 0.25  # offices nobody ever refers to
# Spread (sigma of a log-normal) of how often a service is chosen and how busy a sender is.
SERVICE_POPULARITY_SIGMA = 1.2
SENDER_ACTIVITY_SIGMA = 1.0
# Status by the age of the referral: recent ones are still moving, old ones are closed.
RECENT_DAYS = 45
RECENT_STATUSES = {
    "draft": 14, "sent": 24, "acknowledged": 18, "accepted": 14, "declined": 7,
    "in_progress": 15, "completed": 3, "cancelled": 5,
}  # fmt: skip
OLD_STATUSES = {
    "draft": 2, "sent": 2, "acknowledged": 2, "accepted": 4, "declined": 8, "in_progress": 20,
    "completed": 57, "cancelled": 5,
}  # fmt: skip
OUTCOMES = {
    "got_help": 55, "referred_elsewhere": 10, "could_not_contact": 8, "not_eligible": 7,
    "no_capacity": 7, "declined_by_returnee": 7, "moved_away": 6,
}  # fmt: skip
DECLINE_REASONS = {"no_capacity": 35, "not_eligible": 30, "outside_area": 20, "other": 15}
RETURN_TYPES = {ReturnType.VOLUNTARY: 60, ReturnType.MANDATORY: 25, ReturnType.FORCED: 15}
# Statuses after a referral was sent, and after it was acknowledged.
SENT_STATUSES = {"sent", "acknowledged", "accepted", "declined", "in_progress", "completed"}
ACKNOWLEDGED_STATUSES = {"acknowledged", "accepted", "declined", "in_progress", "completed"}
# Transitions behind each status (draft is version 1): the version a referral would have.
TRANSITIONS = {
    "draft": 0, "sent": 1, "acknowledged": 2, "accepted": 3, "declined": 3, "in_progress": 4,
    "completed": 5,
}  # fmt: skip
