"""Seeded synthetic accounts and tickets for scale tests and benchmarks.

Company names are built from eleven shapes (surname + industry, "X & Y",
adjective + noun, coined brands, places, initialisms, names with digits, accented
names, generic names, ...); about three in four carry a legal form. The right side
holds perturbed copies of some left companies (legal form swapped or dropped,
typos, abbreviations, "&"/"and", word order, accents, "The", case and spacing) and
new companies. Vocabularies are large enough that most companies are distinct, and
small enough that distinct companies sometimes collide, as they do in real CRMs.
"""

# The probabilities and shapes below are the data, not magic numbers; the
# generator makes test data, not secrets.
# ruff: noqa: PLR2004, C901, PLR0911, PLR0915, S311

from __future__ import annotations

import random
import typing
import unicodedata

import attrs
import pyarrow as pa

from revops_ingest.matching._normalise import default_normaliser


__all__ = [
    "SyntheticAccounts",
    "SyntheticTickets",
    "synthetic_accounts",
    "synthetic_tickets",
]

_SURNAMES = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "gomez",
    "phillips",
    "evans",
    "turner",
    "diaz",
    "parker",
    "cruz",
    "edwards",
    "collins",
    "reyes",
    "stewart",
    "morris",
    "morales",
    "murphy",
    "cook",
    "rogers",
    "gutierrez",
    "ortiz",
    "morgan",
    "cooper",
    "peterson",
    "bailey",
    "reed",
    "kelly",
    "howard",
    "ramos",
    "kim",
    "cox",
    "ward",
    "richardson",
    "watson",
    "brooks",
    "chavez",
    "wood",
    "james",
    "bennett",
    "gray",
    "mendoza",
    "ruiz",
    "hughes",
    "price",
    "alvarez",
    "castillo",
    "sanders",
    "patel",
    "myers",
    "long",
    "ross",
    "foster",
    "jimenez",
    "powell",
    "jenkins",
    "perry",
    "russell",
    "sullivan",
    "bell",
    "coleman",
    "butler",
    "henderson",
    "barnes",
    "gonzales",
    "fisher",
    "vasquez",
    "simmons",
    "romero",
    "jordan",
    "patterson",
    "alexander",
    "hamilton",
    "graham",
    "reynolds",
    "griffin",
    "wallace",
    "moreno",
    "west",
    "cole",
    "hayes",
    "bryant",
    "herrera",
    "gibson",
    "ellis",
    "tran",
    "medina",
    "aguilar",
    "stevens",
    "murray",
    "ford",
    "castro",
    "marshall",
    "owens",
    "harrison",
    "fernandez",
    "mcdonald",
    "woods",
    "washington",
    "kennedy",
    "wells",
    "vargas",
    "henry",
    "chen",
    "freeman",
    "webb",
    "tucker",
    "guzman",
    "burns",
    "crawford",
    "olson",
    "simpson",
    "porter",
    "hunter",
    "gordon",
    "mendez",
    "silva",
    "shaw",
    "snyder",
    "mason",
    "dixon",
    "munoz",
    "hunt",
    "hicks",
    "holmes",
    "palmer",
    "wagner",
    "black",
    "robertson",
    "boyd",
    "rose",
    "stone",
    "salazar",
    "fox",
    "warren",
    "mills",
    "meyer",
    "rice",
    "schmidt",
    "garza",
    "daniels",
    "ferguson",
    "nichols",
    "stephens",
    "soto",
    "weaver",
    "ryan",
    "gardner",
    "payne",
    "grant",
    "dunn",
    "kelley",
    "spencer",
    "hawkins",
    "arnold",
    "pierce",
    "vazquez",
    "hansen",
    "peters",
    "santos",
    "hart",
    "bradley",
    "knight",
    "elliott",
    "cunningham",
    "duncan",
    "armstrong",
    "hudson",
    "carroll",
    "lane",
    "riley",
    "andrews",
    "alvarado",
    "ray",
    "delgado",
    "berry",
    "perkins",
    "hoffman",
    "johnston",
    "matthews",
    "pena",
    "richards",
    "willis",
    "carpenter",
    "lawrence",
    "sandoval",
]
_ACCENTED = [
    "müller",
    "schröder",
    "große",
    "lefèvre",
    "françois",
    "nuñez",
    "peña",
    "łukasz",
    "øster",
    "åberg",
    "dvořák",
    "šimek",
    "jönsson",
    "rené",
    "björk",
    "gonçalves",
    "müeller",
    "citroën",
    "ångström",
]
_INDUSTRIES = [
    "plumbing",
    "logistics",
    "consulting",
    "systems",
    "solutions",
    "technologies",
    "software",
    "construction",
    "engineering",
    "marketing",
    "media",
    "analytics",
    "capital",
    "partners",
    "holdings",
    "foods",
    "trading",
    "services",
    "labs",
    "networks",
    "dynamics",
    "robotics",
    "energy",
    "solar",
    "pharma",
    "biotech",
    "health",
    "dental",
    "legal",
    "realty",
    "properties",
    "design",
    "studio",
    "creative",
    "apparel",
    "motors",
    "freight",
    "aviation",
    "marine",
    "security",
    "insurance",
    "finance",
    "ventures",
    "brewing",
    "bakery",
    "coffee",
    "textiles",
    "steel",
    "chemicals",
    "plastics",
    "packaging",
    "printing",
    "publishing",
    "telecom",
    "wireless",
    "cloud",
    "data",
    "cyber",
    "devices",
    "instruments",
    "optics",
    "electronics",
    "semiconductors",
    "materials",
    "mining",
    "forestry",
    "farms",
    "dairy",
    "seafood",
    "wines",
    "outfitters",
    "hardware",
    "tools",
    "machinery",
    "automation",
    "controls",
    "components",
    "fabrication",
    "welding",
]
_ADJECTIVES = [
    "blue",
    "red",
    "green",
    "silver",
    "golden",
    "bright",
    "swift",
    "bold",
    "true",
    "clear",
    "north",
    "south",
    "east",
    "west",
    "summit",
    "pioneer",
    "liberty",
    "eagle",
    "falcon",
    "cedar",
    "maple",
    "oak",
    "pine",
    "river",
    "lake",
    "harbor",
    "coastal",
    "prairie",
    "granite",
    "iron",
    "copper",
    "crystal",
    "diamond",
    "emerald",
    "sapphire",
    "atlas",
    "apex",
    "vertex",
    "zenith",
    "quantum",
    "fusion",
    "nova",
    "stellar",
    "lunar",
    "solar",
    "vivid",
    "agile",
    "nimble",
    "rapid",
    "prime",
    "noble",
    "royal",
    "grand",
    "urban",
    "metro",
    "rural",
    "alpine",
    "polar",
    "tropical",
    "desert",
]
_NOUNS = [
    "bridge",
    "stone",
    "field",
    "ridge",
    "peak",
    "valley",
    "brook",
    "creek",
    "grove",
    "meadow",
    "point",
    "gate",
    "port",
    "tower",
    "works",
    "forge",
    "mill",
    "craft",
    "path",
    "road",
    "way",
    "line",
    "wave",
    "light",
    "spark",
    "flame",
    "star",
    "leaf",
    "tree",
    "rock",
    "shore",
    "bay",
    "island",
    "hill",
    "crest",
    "arrow",
    "shield",
    "anchor",
    "compass",
    "horizon",
]
_PLACES = [
    "denver",
    "austin",
    "boston",
    "seattle",
    "portland",
    "phoenix",
    "dallas",
    "houston",
    "chicago",
    "atlanta",
    "miami",
    "detroit",
    "nashville",
    "memphis",
    "omaha",
    "tulsa",
    "tucson",
    "fresno",
    "oakland",
    "raleigh",
    "london",
    "leeds",
    "bristol",
    "glasgow",
    "dublin",
    "cork",
    "berlin",
    "munich",
    "hamburg",
    "cologne",
    "vienna",
    "zurich",
    "geneva",
    "lyon",
    "paris",
    "nantes",
    "lille",
    "madrid",
    "sevilla",
    "porto",
    "lisbon",
    "milan",
    "turin",
    "rome",
    "oslo",
    "bergen",
    "malmo",
    "helsinki",
    "tallinn",
    "riga",
    "vilnius",
    "warsaw",
    "krakow",
    "prague",
    "brno",
    "sydney",
    "perth",
    "adelaide",
    "brisbane",
    "auckland",
    "toronto",
    "ottawa",
    "calgary",
    "montreal",
    "quebec",
    "pacific",
    "atlantic",
    "midwest",
    "southern",
    "northern",
    "western",
    "eastern",
    "central",
    "coastal",
]
_GENERIC = [
    "global",
    "united",
    "national",
    "international",
    "general",
    "american",
    "premier",
    "first",
    "universal",
    "standard",
    "professional",
    "advanced",
    "integrated",
    "strategic",
]
_GENERIC_TAIL = [
    "services",
    "solutions",
    "group",
    "consulting",
    "systems",
    "enterprises",
    "industries",
    "partners",
    "management",
    "resources",
    "technologies",
]
_SYLLABLES = [
    "ze",
    "ta",
    "ro",
    "va",
    "qui",
    "lix",
    "nex",
    "or",
    "a",
    "tri",
    "co",
    "vo",
    "lan",
    "mar",
    "ten",
    "sol",
    "ra",
    "ki",
    "mo",
    "zu",
    "bel",
    "fin",
    "gra",
    "hel",
    "jor",
    "kal",
    "lum",
    "nor",
    "pax",
    "quin",
    "rex",
    "syn",
    "tor",
    "ul",
    "vex",
    "wyn",
    "xa",
    "yor",
    "zil",
    "bri",
    "cor",
    "dra",
    "el",
    "fa",
    "gen",
    "ix",
    "jo",
    "ka",
    "li",
    "mi",
    "na",
    "on",
    "pe",
    "ri",
    "su",
    "te",
    "vi",
]
_LEGAL = (
    ("Inc", 14),
    ("Inc.", 10),
    ("LLC", 14),
    ("Ltd", 8),
    ("Ltd.", 4),
    ("Limited", 4),
    ("Corp", 5),
    ("Corp.", 4),
    ("Corporation", 5),
    ("Co.", 3),
    ("GmbH", 6),
    ("AG", 2),
    ("GmbH & Co. KG", 2),
    ("S.A.", 3),
    ("SAS", 2),
    ("B.V.", 2),
    ("Pty Ltd", 2),
    ("PLC", 2),
    ("S.r.l.", 2),
    ("Oy", 1),
    ("AB", 1),
    ("L.L.C.", 1),
)
_ABBREVIATIONS = {
    "international": "intl",
    "corporation": "corp",
    "company": "co",
    "manufacturing": "mfg",
    "services": "svcs",
    "technologies": "tech",
    "associates": "assoc",
    "brothers": "bros",
    "systems": "sys",
    "solutions": "solns",
    "laboratories": "labs",
    "engineering": "eng",
    "and": "&",
    "&": "and",
}
_TLDS = (
    ("com", 70),
    ("co.uk", 5),
    ("de", 5),
    ("io", 4),
    ("net", 4),
    ("fr", 3),
    ("com.au", 3),
    ("nl", 2),
    ("ca", 2),
    ("co", 2),
)
_FREE_MAIL = (
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "gmx.de",
    "icloud.com",
)


@attrs.frozen
class SyntheticAccounts:
    """Two systems' accounts and the truth about them.

    Attributes:
        left: ``account_id``, ``name``, ``website``.
        right: ``account_id``, ``name``, ``domain``.
        truth: ``left_id``, ``right_id`` of every right account copied from a left
            one (same company).
    """

    left: pa.Table
    right: pa.Table
    truth: pa.Table


@attrs.frozen
class SyntheticTickets:
    """Tickets, contacts and the account each ticket was written for.

    Attributes:
        tickets: ``ticket_id``, ``requester_email``, ``organization_domains``.
        contacts: ``email``, ``account_id`` (some requesters, free-mail included).
        truth: ``ticket_id``, ``account_id``.
    """

    tickets: pa.Table
    contacts: pa.Table
    truth: pa.Table


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([i[0] for i in items], weights=[i[1] for i in items])[0]


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        extra = {
            "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
            for _ in range(12000)
        }
        self.surnames = list(_SURNAMES) + sorted(extra)[:8000]
        self.coined = sorted(
            {
                "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
                for _ in range(400000)
            }
        )
        self.accented = list(_ACCENTED) + sorted(
            {_accentuate(rng, word) for word in rng.sample(self.coined, 20000)}
        )

    def base(self) -> list[str]:
        """The words of one company name, without legal form."""
        rng = self.rng
        shape = rng.random()
        cap = str.capitalize
        if shape < 0.18:
            return [cap(rng.choice(self.surnames)), cap(rng.choice(_INDUSTRIES))]
        if shape < 0.27:
            words = [
                cap(rng.choice(self.surnames)),
                "&",
                cap(rng.choice(self.surnames)),
            ]
            return words + (
                [cap(rng.choice(_INDUSTRIES))] if rng.random() < 0.5 else []
            )
        if shape < 0.39:
            words = [cap(rng.choice(_ADJECTIVES)), cap(rng.choice(_NOUNS))]
            third = rng.choice((*_INDUSTRIES, *self.surnames[:300]))
            return [*words, cap(third)] if rng.random() < 0.9 else words
        if shape < 0.54:
            return [cap(rng.choice(self.coined))]
        if shape < 0.70:
            return [cap(rng.choice(self.coined)), cap(rng.choice(_INDUSTRIES))]
        if shape < 0.80:
            words = [cap(rng.choice(_PLACES)), cap(rng.choice(_INDUSTRIES))]
            if rng.random() < 0.7:
                words.insert(1, cap(rng.choice(self.surnames)))
            return words
        if shape < 0.85:
            letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTVW") for _ in range(3))
            return [letters, cap(rng.choice(_INDUSTRIES))]
        if shape < 0.88:
            return [cap(rng.choice(_GENERIC)), cap(rng.choice(_GENERIC_TAIL))]
        if shape < 0.93:
            number = str(
                rng.choice((1, 2, 3, 4, 7, 9, 12, 21, 24, 42, 54, 66, 99, 360))
            )
            return [
                cap(rng.choice(_NOUNS + _ADJECTIVES)),
                number,
                cap(rng.choice(_INDUSTRIES)),
            ]
        if shape < 0.97:
            return [cap(rng.choice(self.accented)), cap(rng.choice(_INDUSTRIES))]
        return [
            cap(rng.choice(self.surnames)),
            cap(rng.choice(_INDUSTRIES)),
            "International",
        ]

    def name(self, words: list[str]) -> str:
        if self.rng.random() < 0.75:
            return (
                " ".join(words) + self.legal_separator() + _weighted(self.rng, _LEGAL)
            )
        return " ".join(words)

    def legal_separator(self) -> str:
        return ", " if self.rng.random() < 0.3 else " "


def _accentuate(rng: random.Random, word: str) -> str:
    vowels = [i for i, c in enumerate(word) if c in _ACCENTS]
    if not vowels:
        return word
    i = rng.choice(vowels)
    return word[:i] + rng.choice(_ACCENTS[word[i]]) + word[i + 1 :]


_ACCENTS = {"a": "áàâäå", "e": "éèêë", "i": "íîï", "o": "óôöø", "u": "úûü", "n": "ñ"}


def _slug(words: list[str]) -> str:
    kept = [
        w.lower()
        for w in words
        if w not in {"&", "and"} and w.replace("-", "").isalnum() and w.isascii()
    ]
    return "".join(kept[:2]) or "x"


def _decorate(rng: random.Random, domain: str) -> str:
    roll = rng.random()
    if roll < 0.35:
        url = "https://www." + domain
    elif roll < 0.5:
        url = "http://" + domain
    elif roll < 0.65:
        url = "www." + domain
    else:
        url = domain
    if rng.random() < 0.15:
        url += rng.choice(("/", "/about", "/en-us/home", "?utm_source=crm"))
    if rng.random() < 0.05:
        url = url.upper()
    return url


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word))
    op = rng.random()
    letters = "abcdefghijklmnopqrstuvwxyz"
    if op < 0.3:
        return word[:i] + rng.choice(letters) + word[i + 1 :]
    if op < 0.55:
        return word[:i] + word[i + 1 :]
    if op < 0.8:
        return word[:i] + rng.choice(letters) + word[i:]
    if i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word


def _strip_accents(word: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)
    )


def _perturb(rng: random.Random, names: _Names, words: list[str]) -> str:
    words = list(words)
    if rng.random() < 0.35:
        j = rng.randrange(len(words))
        words[j] = _typo(rng, words[j])
    if rng.random() < 0.25:
        words = [
            _ABBREVIATIONS.get(w.lower(), w) if rng.random() < 0.7 else w for w in words
        ]
    if rng.random() < 0.1 and len(words) > 1:
        j = rng.randrange(len(words) - 1)
        words[j], words[j + 1] = words[j + 1], words[j]
    if rng.random() < 0.1:
        words = [_strip_accents(w) for w in words]
    if rng.random() < 0.05:
        words = ["The", *words]
    name = " ".join(words)
    roll = rng.random()
    if roll < 0.5:
        name = names.name(name.split())
    elif roll < 0.75:
        name += names.legal_separator() + _weighted(rng, _LEGAL)
    roll = rng.random()
    if roll < 0.1:
        name = name.upper()
    elif roll < 0.2:
        name = name.lower()
    if rng.random() < 0.05:
        name = "  " + name.replace(" ", "  ") + " "
    return name


def synthetic_accounts(
    n_left: int,
    n_right: int | None = None,
    *,
    overlap: float = 0.5,
    seed: int = 0,
) -> SyntheticAccounts:
    """Generate two systems' accounts with a known truth.

    Args:
        n_left: Left accounts (``SF...`` ids).
        n_right: Right accounts (``HS...`` ids); as many as left if omitted.
        overlap: Share of right accounts that copy a left company.
        seed: The random seed; the same seed gives the same tables.

    Returns:
        The tables and the truth.
    """
    n_right = n_left if n_right is None else n_right
    rng = random.Random(seed)
    names = _Names(rng)
    used: set[str] = set()

    def new_domain(words: list[str]) -> str:
        base = _slug(words)
        domain = f"{base}.{_weighted(rng, _TLDS)}"
        k = 2
        while domain in used:
            domain = f"{base}{k}.{_weighted(rng, _TLDS)}"
            k += 1
        used.add(domain)
        return domain

    left_words: list[list[str]] = []
    left_domains: list[str | None] = []
    left_rows: dict[str, list[str | None]] = {
        "account_id": [],
        "name": [],
        "website": [],
    }
    for i in range(n_left):
        words = names.base()
        roll = rng.random()
        domain = new_domain(words) if roll < 0.65 else None
        website: str | None = _decorate(rng, domain) if domain else None
        if domain is None and roll < 0.7:
            website = rng.choice(
                (
                    f"https://www.linkedin.com/company/{_slug(words)}",
                    f"{_slug(words)}@gmail.com",
                    "https://facebook.com/" + _slug(words),
                )
            )
        left_words.append(words)
        left_domains.append(domain)
        left_rows["account_id"].append(f"SF{i:08d}")
        left_rows["name"].append(names.name(words))
        left_rows["website"].append(website)

    copies = rng.sample(range(n_left), min(int(n_right * overlap), n_left))
    right_rows: dict[str, list[str | None]] = {
        "account_id": [],
        "name": [],
        "domain": [],
    }
    truth_left: list[str] = []
    truth_right: list[str] = []
    sources: list[int | None] = [*copies, *([None] * (n_right - len(copies)))]
    rng.shuffle(sources)
    for j, source in enumerate(sources):
        rid = f"HS{j:08d}"
        if source is None:
            words = names.base()
            right_rows["name"].append(names.name(words))
            right_rows["domain"].append(
                _decorate(rng, new_domain(words)) if rng.random() < 0.6 else None
            )
        else:
            words = left_words[source]
            right_rows["name"].append(_perturb(rng, names, words))
            domain = left_domains[source]
            roll = rng.random()
            value: str | None
            if domain is None:
                value = _decorate(rng, new_domain(words)) if roll < 0.3 else None
            elif roll < 0.6:
                value = _decorate(rng, domain)
            elif roll < 0.8:
                value = None
            elif roll < 0.9:
                value = _decorate(rng, "shop." + domain)
            else:
                value = _decorate(rng, new_domain(words))
            right_rows["domain"].append(value)
            truth_left.append(f"SF{source:08d}")
            truth_right.append(rid)
        right_rows["account_id"].append(rid)
    return SyntheticAccounts(
        left=pa.table(left_rows),
        right=pa.table(right_rows),
        truth=pa.table({"left_id": truth_left, "right_id": truth_right}).sort_by(
            [("left_id", "ascending")]
        ),
    )


def synthetic_tickets(
    accounts: pa.Table,
    n: int,
    *,
    seed: int = 0,
    domain_column: str = "website",
) -> SyntheticTickets:
    """Generate support tickets for some accounts.

    About 65 % of requesters write from their company's domain (some from a
    subdomain), 25 % from free mail (half of them known as contacts of their
    account) and 10 % from domains no account has. Two in five tickets carry their
    organization's domains, as Zendesk does.

    Args:
        accounts: ``account_id`` and *domain_column* (websites or domains).
        n: Number of tickets.
        seed: The random seed.
        domain_column: The column holding the accounts' websites.

    Returns:
        Tickets, contacts and the truth.
    """
    rng = random.Random(seed)
    keys = default_normaliser().domain_keys(accounts.column(domain_column)).to_pylist()
    ids: list[str] = [str(i) for i in accounts.column("account_id").to_pylist()]
    with_domain: list[tuple[str, str]] = [
        (str(i), str(k)) for i, k in zip(ids, keys, strict=True) if k
    ]
    contacts: dict[str, str] = {}
    rows: dict[str, list[typing.Any]] = {
        "ticket_id": [],
        "requester_email": [],
        "organization_domains": [],
    }
    truth: list[str | None] = []
    for t in range(n):
        roll = rng.random()
        local = f"user{rng.randrange(10**6)}"
        account: str | None
        org: list[str] | None = None
        if roll < 0.65 and with_domain:
            account, key = rng.choice(with_domain)
            host = ("eu." + key) if rng.random() < 0.05 else key
            email = f"{local}@{host.upper() if rng.random() < 0.05 else host}"
            if rng.random() < 0.4:
                org = [key]
            if rng.random() < 0.1:
                contacts[email.lower()] = account
        elif roll < 0.9 and ids:
            account = rng.choice(ids)
            email = f"{local}@{rng.choice(_FREE_MAIL)}"
            if rng.random() < 0.5:
                contacts[email] = account
        else:
            account = None
            email = f"{local}@nohit{rng.randrange(10**5)}.org"
        rows["ticket_id"].append(f"T{t:09d}")
        rows["requester_email"].append(email)
        rows["organization_domains"].append(org)
        truth.append(account)
    return SyntheticTickets(
        tickets=pa.table(
            {
                "ticket_id": pa.array(rows["ticket_id"], pa.string()),
                "requester_email": pa.array(rows["requester_email"], pa.string()),
                "organization_domains": pa.array(
                    rows["organization_domains"], pa.list_(pa.string())
                ),
            }
        ),
        contacts=pa.table(
            {
                "email": pa.array(sorted(contacts), pa.string()),
                "account_id": pa.array(
                    [contacts[e] for e in sorted(contacts)], pa.string()
                ),
            }
        ),
        truth=pa.table({"ticket_id": rows["ticket_id"], "account_id": truth}),
    )
