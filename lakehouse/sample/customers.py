"""The sample's customers: who consents to research, who has readings, and their JSON records."""
from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Iterator

#: share of real customers with a shareWithResearchAsOfDate (482 of 956).
P_RESEARCH = 0.504
#: share of real customers with a shareWithPublicAsOfDate.
P_PUBLIC = 0.514
#: share of real customers with a shareWithFriendsAsOfDate.
P_FRIENDS = 0.531
#: customers without any reading (the real data has none), so that customer_curated can be
#: smaller than customer_trusted.
P_NO_READINGS = 0.02
#: share of real customers whose lastUpdateDate (and consent dates) is not the registration.
P_LATE_UPDATE = 0.046
#: those late updates come 55-70 s after the registration, as in the real data.
LATE_UPDATE_MIN_MS = 55_000
LATE_UPDATE_SPREAD_MS = 15_000
#: first registration of the real data (2022-06-18).
FIRST_REGISTRATION_MS = 1_655_561_994_131
#: gaps between registrations of 1 to 5130 ms average the real data's ~2.57 s.
REGISTRATION_GAP_SPREAD_MS = 5130
#: real birth years run from about 1000 to 1964, every birthday on 1 January.
BIRTH_YEAR_MIN = 1000
BIRTH_YEAR_SPREAD = 965
#: every real customer has this same phone number.
PHONE = "8015551212"
#: (research consent, has readings) forced on the first customers of a draw lacking two
#: consenting and two non-consenting customers with readings, so that every table is non-empty
#: and filtering on consent actually drops rows, at any scale.
GUARANTEED_FLAGS = ((True, True), (False, True), (True, True), (False, True))

_FIRST_NAMES = (
    "Angie Ashley Ben Bobby Chris Christina Craig Dan Danny David Edward Eric Frank Gail Jacob "
    "Jane Jason Jaya Jerry John Larry Liz Lyn Manoj Neeraj Santosh Sarah Sean Senthil Spencer "
    "Suresh Travis Trevor"
).split()
_LAST_NAMES = (
    "Abram Ahmed Anandh Anderson Aristotle Clark Clayton Davis Doshi Fibonnaci Gonzalez Habschied "
    "Hansen Harris Howard Huey Jackson Jefferson Jones Khatib Lincoln Mitra Olson Phillips Sanchez "
    "Smith Spencer Staples Wu"
).split()


class Role(IntEnum):
    """The two customers that make the consent-date and shared-timestamp cases certain.

    At small scales the random draws may give no reading before a consent, none at exactly the
    consent millisecond and no timestamp shared between trusted users; these two customers
    guarantee all three, so the ``after_consent`` and ``timestamp_only`` counts always differ
    from the plain ones.
    """

    ORDINARY = 0
    #: first consenting customer with readings: consents at registration, and its readings start
    #: well before that and include one at exactly the consent millisecond.
    FIRST_SHARER = 1
    #: second consenting customer with readings: takes one timestamp of the first sharer's.
    SECOND_SHARER = 2


SHARER_ROLES = (Role.FIRST_SHARER, Role.SECOND_SHARER)


@dataclass(slots=True)
class Customer:
    email_json: str  # the email already JSON-encoded, quotes included
    serial: str
    registration: int
    research_consent: int | None  # shareWithResearchAsOfDate, None when absent
    has_readings: bool
    readings_seed: int  # seed of this customer's own random.Random for its readings
    role: Role = Role.ORDINARY


def consent_and_readings_flags(rng: random.Random, n: int) -> tuple[list[bool], list[bool]]:
    """Research consent and has-readings flags; small draws are patched so that at least two
    consenting and two non-consenting customers have readings."""
    research = [rng.random() < P_RESEARCH for _ in range(n)]
    readings = [rng.random() >= P_NO_READINGS for _ in range(n)]
    trusted_with = sum(r and h for r, h in zip(research, readings))
    others_with = sum((not r) and h for r, h in zip(research, readings))
    if trusted_with < 2 or others_with < 2:
        for i, (consent, has) in enumerate(GUARANTEED_FLAGS):
            research[i], readings[i] = consent, has
    return research, readings


def customer_records(
    rng: random.Random, n: int, research: list[bool], readings: list[bool]
) -> Iterator[tuple[Customer, str]]:
    """Customers in registration order, each with its JSON line (default separators)."""
    names = [(first, last) for first in _FIRST_NAMES for last in _LAST_NAMES]
    rng.shuffle(names)
    serials: set[str] = set()
    registration = FIRST_REGISTRATION_MS
    sharers_seen = 0
    for i in range(n):
        first, last = names[i % len(names)]
        name_reuse = i // len(names)  # emails stay unique once every name is taken
        email = f"{first}.{last}{name_reuse + 1 if name_reuse else ''}@test.com"
        while True:
            serial = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            if serial not in serials:
                serials.add(serial)
                break
        year = BIRTH_YEAR_MIN + int(rng.random() * BIRTH_YEAR_SPREAD)
        if i:
            registration += 1 + int(rng.random() * REGISTRATION_GAP_SPREAD_MS)
        late_draw = rng.random()
        update = (
            registration + LATE_UPDATE_MIN_MS + int(rng.random() * LATE_UPDATE_SPREAD_MS)
            if late_draw < P_LATE_UPDATE
            else registration
        )
        public = rng.random() < P_PUBLIC
        friends = rng.random() < P_FRIENDS
        readings_seed = rng.getrandbits(64)
        role = Role.ORDINARY
        if research[i] and readings[i] and sharers_seen < len(SHARER_ROLES):
            role = SHARER_ROLES[sharers_seen]
            sharers_seen += 1
            if role is Role.FIRST_SHARER:
                update = registration  # consent at registration, readings straddle it
        rec: dict[str, Any] = {
            "customerName": f"{first} {last}",
            "email": email,
            "phone": PHONE,
            "birthDay": f"{year:04d}-01-01",
            "serialNumber": serial,
            "registrationDate": registration,
            "lastUpdateDate": update,
        }
        if research[i]:
            rec["shareWithResearchAsOfDate"] = update
        if public:
            rec["shareWithPublicAsOfDate"] = update
        if friends:
            rec["shareWithFriendsAsOfDate"] = update
        customer = Customer(
            email_json=json.dumps(email),
            serial=serial,
            registration=registration,
            research_consent=update if research[i] else None,
            has_readings=readings[i],
            readings_seed=readings_seed,
            role=role,
        )
        yield customer, json.dumps(rec)
