#!/usr/bin/env python3
# Copyright (c) 2026 The misperd authors. ISC licence: see include/log.h.
#
# genstream.py: a deterministic generator of realistic misperd event streams
# (NDJSON, contract version 1), for examples, tests and load runs.
#
# The shipped example was made with exactly:
#
#   python3 scripts/genstream.py --seed 1 --events 600 --years 1 \
#       --start 2025-01-01T00:00:00Z --no-duplicates > examples/stream.ndjson
#
# Standard library only (Python 3.11).  The same arguments always give the
# same bytes.  See --help; --stats prints a summary to stderr.
"""Generate a realistic, seeded stream of misperd events (NDJSON on stdout).

The model, loosely after the domain brief (sections 2, 4, 5 and 7):

* Children aged mostly 13-17 (some 9-12), living in London boroughs, with
  a date of birth, looked-after and child protection plan status, and
  markers (known_cse_risk, ...).  About one in five of the children who go
  missing is looked after (in care) and they account for about 40% of the
  episodes (about 5.5 a year against 2.3 for other children); rates are
  skewed so that a few children go missing very often.  Overall about 2.9
  episodes per child per year.  In a stream of more than a year each child
  goes missing only within a window of 1.5 to 3.5 years, and never from
  their 18th birthday.
* Each episode runs a full lifecycle: episode.reported (missing or absent,
  risk grade, last seen at home or placement), sometimes episode.updated
  (re-grading, indicators, a note), episode.found (79% within 24 h; at home,
  elsewhere in the borough, out of the force area, or at an address of
  concern, sometimes with other people), interview.completed (prevention
  interview by police; return home interview by the local authority, on time
  within 72 h, late, or never), indicator.recorded (from social care),
  plan.recorded (after repeat episodes) and episode.closed.
* A few addresses are flagged at the start (location.flagged: rso_address,
  exploitation_hotspot); a child at risk of exploitation tends to be found
  at "their" flagged address; now and then a flag is withdrawn
  (location.cleared).  Places without a UPRN are sometimes typed with other
  case and spacing, as different senders do.
* Events come out in event-time order, except a small share of late events
  (held back and sent after later ones) and exact duplicate lines (a line
  sent again), both optional.

Every line is a valid event under the contract, so a stream sent to a
daemon with an empty database gets only "ok" replies (duplicates answer
{"duplicate": true}).  Episode events after episode.reported name only the
episode, so the daemon must know it: episode.reported is never held back.
"""

import argparse
import bisect
import heapq
import json
import sys
import time
from datetime import datetime, timezone
from random import Random

# Indicator ids: exactly the catalogue of the domain brief, section 5.
INDICATORS = (
    "missing_overnight_or_longer",
    "missing_frequent",
    "older_partner_or_controlling_adult",
    "found_with_unknown_adults",
    "vehicle_unknown_adult",
    "unexplained_money_gifts",
    "multiple_callers_or_phones",
    "found_out_of_area",
    "address_of_concern",
    "association_known_offender",
    "peers_exploited",
    "recruiting_peers",
    "sexual_images_online",
    "disclosure_withdrawn",
    "sexual_health",
    "substance_misuse",
    "self_harm_suicidal",
    "education_disengaged",
    "disclosed_cse",
    "cce_drugs_or_cash",
    "cce_travel_evidence",
    "cce_weapon",
    "returned_injured",
)

# Indicators seen when a child is found or interviewed, with rough weights
# (common vulnerability signs often, disclosures rarely).
CSE_SIGNS = (
    ("older_partner_or_controlling_adult", 8),
    ("found_with_unknown_adults", 6),
    ("vehicle_unknown_adult", 5),
    ("unexplained_money_gifts", 7),
    ("multiple_callers_or_phones", 7),
    ("sexual_images_online", 5),
    ("peers_exploited", 4),
    ("recruiting_peers", 1),
    ("disclosure_withdrawn", 2),
    ("sexual_health", 2),
    ("substance_misuse", 9),
    ("self_harm_suicidal", 4),
    ("education_disengaged", 10),
    ("disclosed_cse", 1),
    ("returned_injured", 2),
    ("missing_frequent", 3),
)
CCE_SIGNS = (
    ("cce_drugs_or_cash", 5),
    ("cce_travel_evidence", 4),
    ("cce_weapon", 1),
    ("multiple_callers_or_phones", 6),
    ("found_out_of_area", 3),
    ("substance_misuse", 4),
    ("recruiting_peers", 1),
)
# What social care records between episodes (indicator.recorded).
SOCIAL_CARE_SIGNS = (
    ("education_disengaged", 10),
    ("substance_misuse", 6),
    ("self_harm_suicidal", 4),
    ("sexual_images_online", 4),
    ("older_partner_or_controlling_adult", 4),
    ("unexplained_money_gifts", 4),
    ("peers_exploited", 3),
    ("sexual_health", 2),
    ("multiple_callers_or_phones", 3),
    ("disclosure_withdrawn", 1),
    ("missing_frequent", 3),
    ("association_known_offender", 1),
)

# London boroughs (the Met's area) with a few of their postcode districts.
BOROUGHS = (
    ("barking-and-dagenham", ("IG11", "RM9", "RM10"), 3),
    ("barnet", ("N12", "EN5", "NW4"), 3),
    ("bexley", ("DA5", "DA7", "DA15"), 2),
    ("brent", ("NW10", "HA9", "NW2"), 3),
    ("bromley", ("BR1", "BR2", "BR6"), 3),
    ("camden", ("NW1", "NW5", "N19"), 3),
    ("city-of-london", ("EC2M", "EC4A"), 1),
    ("croydon", ("CR0", "CR7", "SE25"), 5),
    ("ealing", ("W5", "W13", "UB1"), 3),
    ("enfield", ("EN1", "EN3", "N9"), 4),
    ("greenwich", ("SE10", "SE18", "SE9"), 3),
    ("hackney", ("E8", "E5", "N16"), 4),
    ("hammersmith-and-fulham", ("W6", "W12", "SW6"), 2),
    ("haringey", ("N17", "N15", "N22"), 4),
    ("harrow", ("HA1", "HA2", "HA3"), 2),
    ("havering", ("RM1", "RM3", "RM7"), 3),
    ("hillingdon", ("UB8", "UB3", "HA4"), 3),
    ("hounslow", ("TW3", "TW4", "TW13"), 3),
    ("islington", ("N1", "N7", "N5"), 3),
    ("kensington-and-chelsea", ("W8", "W10", "SW3"), 2),
    ("kingston-upon-thames", ("KT1", "KT2", "KT6"), 2),
    ("lambeth", ("SW9", "SE11", "SW2"), 4),
    ("lewisham", ("SE13", "SE6", "SE4"), 4),
    ("merton", ("SW19", "CR4", "SM4"), 2),
    ("newham", ("E15", "E13", "E6"), 4),
    ("redbridge", ("IG1", "IG2", "E18"), 3),
    ("richmond-upon-thames", ("TW9", "TW1", "TW10"), 2),
    ("southwark", ("SE1", "SE15", "SE5"), 4),
    ("sutton", ("SM1", "SM2", "SM3"), 2),
    ("tower-hamlets", ("E1", "E14", "E3"), 4),
    ("waltham-forest", ("E17", "E10", "E4"), 3),
    ("wandsworth", ("SW18", "SW11", "SW17"), 3),
    ("westminster", ("W1D", "SW1V", "W2"), 3),
)
# Towns outside the force area where children are found (county lines).
OUT_OF_FORCE = (
    ("southend-on-sea", ("SS1", "SS2")),
    ("brighton-and-hove", ("BN1", "BN2")),
    ("thanet", ("CT9", "CT11")),
    ("luton", ("LU1", "LU2")),
    ("reading", ("RG1", "RG30")),
    ("crawley", ("RH10", "RH11")),
    ("chelmsford", ("CM1", "CM2")),
    ("basildon", ("SS14", "SS16")),
    ("slough", ("SL1", "SL2")),
    ("watford", ("WD17", "WD24")),
    ("hastings", ("TN34", "TN37")),
    ("ipswich", ("IP1", "IP4")),
)
STREETS = (
    "High Street", "Church Road", "Station Road", "Park Avenue", "London Road",
    "Victoria Road", "Green Lane", "Manor Road", "Kings Road", "Queens Road",
    "Mill Lane", "The Avenue", "Grove Road", "Albert Road", "Springfield Road",
    "Chestnut Close", "Windsor Road", "York Road", "Cedar Close", "Stanley Road",
    "North Street", "Richmond Road", "Elm Grove", "Highfield Road",
    "Broadway", "Market Street", "Hillside Avenue", "Woodland Way",
)
PLACES = (
    "bus station", "railway station", "McDonald's", "Chicken Cottage",
    "shopping centre", "Tesco Express", "skate park", "recreation ground",
    "Premier Inn", "Travelodge", "library", "leisure centre", "McDonald's",
)
HOTSPOT_PLACES = (
    "Travelodge", "Premier Inn", "shisha lounge", "takeaway", "car wash",
    "minicab office", "B&B", "nail bar",
)
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
CHILD_FLAGS_ALL = ("known_cse_risk", "known_cce_risk", "learning_disability",
    "out_of_area_placement")
OUTCOMES = ("found_safe", "returned_home", "returned_to_placement",
    "located_by_police", "found_safe", "returned_to_placement")
NOTES = (
    "Seen getting into a grey car near the station.",
    "Friend says child is at a party; address not known.",
    "Phone switched off since last night.",
    "Carer reports child took a bag of clothes.",
    "Sighting at the shopping centre with two older males.",
    "Child has messaged carer saying they are safe.",
    "Social media activity shows child in another town.",
    "Known associate's address checked: not present.",
    "Supervisor review: risk regraded after new information.",
    "Child's phone located near the bus station.",
)
RISKS = ("no_apparent_risk", "low", "medium", "high")
# Line kinds, in the order --stats prints them, and their event types.
KINDS = (("flag", "location.flagged"), ("reported", "episode.reported"),
    ("updated", "episode.updated"), ("found", "episode.found"),
    ("interview", "interview.completed"), ("indicator", "indicator.recorded"),
    ("plan", "plan.recorded"), ("closed", "episode.closed"),
    ("clear", "location.cleared"))
DAY = 86400
HOUR = 3600
YEAR = int(365.25 * DAY)
# Streams longer than this give each child an active window within them.
MULTI_YEAR = int(1.2 * YEAR)


def weighted(rng, table):
    """A picker for (item, weight) pairs: returns f() -> item."""
    items = [t[0] for t in table]
    cum = []
    acc = 0.0
    for t in table:
        acc += t[1]
        cum.append(acc)
    total = acc
    rand = rng.random
    bis = bisect.bisect_right

    def pick():
        return items[bis(cum, rand() * total)]
    return pick


class Clock:
    """RFC 3339 'Z' formatting of whole seconds, caching the date and
    with a table of the times of day."""

    def __init__(self):
        self.day = None
        self.prefix = ""
        self.tod = ["%02d:%02d:%02dZ" % (s // 3600, s // 60 % 60, s % 60)
            for s in range(DAY)]

    def fmt(self, t):
        d, s = divmod(t, DAY)
        if d != self.day:
            self.day = d
            self.prefix = time.strftime("%Y-%m-%dT", time.gmtime(d * DAY))
        return self.prefix + self.tod[s]


class Child:
    __slots__ = ("cid", "dob", "looked_after", "cp_plan", "area", "flags",
        "home", "cse", "cce", "haunt", "busy_until", "reports",
        "plan_until", "n", "rep90", "rep30", "adult_at", "pull", "active")


class Gen:
    def __init__(self, a):
        self.a = a
        self.rng = Random(a.seed)
        self.clock = Clock()
        self.start = a.start
        self.span = int(a.years * 365.25 * DAY)
        self.end = self.start + self.span
        self.enc = json.JSONEncoder(separators=(",", ":")).encode
        self.loc_cache = {}
        self.seq_event = 0
        self.seq_episode = {}
        self.seq_person = 0
        self.year_children = {}	# year -> ids of children missing in it
        self.uprn_next = 100021000000 + self.ri(0, 900000)
        self.tie = 0
        self.heap = []
        self.stats = dict.fromkeys((k for k, _ in KINDS), 0)
        self.lates = 0
        self.dups = 0
        rng = self.rng
        self.pick_borough = weighted(rng, [(b, b[2]) for b in BOROUGHS])
        self.pick_cse = weighted(rng, CSE_SIGNS)
        self.pick_cce = weighted(rng, CCE_SIGNS)
        self.pick_sc = weighted(rng, SOCIAL_CARE_SIGNS)
        self.places = {}	# borough -> list of public places
        self.carehomes = {}	# borough -> list of care home locations
        self.flagged = []	# [location, reason, cleared?, source]
        self.flag_of = {}	# id(location) -> its entry in flagged
        self.found_at = {}	# reason -> episodes found at such a place
        self.unclaimed = None	# the first flags, until a child is drawn
        self.make_children()

    # Faster than randrange/choice, and just as deterministic.
    def ri(self, lo, hi):
        return lo + int(self.rng.random() * (hi - lo))

    def pick(self, seq):
        return seq[int(self.rng.random() * len(seq))]

    # ---- places ----

    def postcode(self, outwards):
        r = self.rng
        return "%s %d%s%s" % (self.pick(outwards), self.ri(1, 10),
            self.pick(POSTCODE_LETTERS), self.pick(POSTCODE_LETTERS))

    def address(self, outwards, area, uprn_share, name=None):
        r = self.rng
        street = self.pick(STREETS)
        num = self.ri(1, 240)
        if name is not None:
            addr = "%s, %d %s" % (name, num, street)
        elif r.random() < 0.3:
            addr = "Flat %d, %d %s" % (self.ri(1, 30), num, street)
        else:
            addr = "%d %s" % (num, street)
        loc = {}
        if r.random() < uprn_share:
            self.uprn_next += self.ri(1, 5000)
            loc["uprn"] = str(self.uprn_next)
        loc["postcode"] = self.postcode(outwards)
        loc["address"] = addr
        loc["area"] = area
        return loc

    def place_in(self, borough):
        name, outwards, _ = borough
        lst = self.places.get(name)
        if lst is None:
            lst = [self.address(outwards, name, 0.5,
                name=self.rng.choice(PLACES)) for _ in range(12)]
            self.places[name] = lst
        return self.rng.choice(lst)

    def carehome_in(self, borough):
        name, outwards, _ = borough
        lst = self.carehomes.get(name)
        if lst is None:
            lst = []
            self.carehomes[name] = lst
        # About six looked-after children per placement address.
        if not lst or self.rng.random() < 0.17:
            loc = self.address(outwards, name, 0.9)
            lst.append(loc)
            return loc
        return self.rng.choice(lst)

    # ---- children ----

    def make_children(self):
        """Every child's looked-after status and rate.  Over more than a
        year each child also has an active window of 1.5 to 3.5 years
        (the years in which they go missing), and episodes pick among the
        children active in that year."""
        a, r = self.a, self.rng
        n = a.children
        self.children = [None] * n
        self.lac = []
        self.window = None
        years = max(1, -(-self.span // YEAR))
        multi = self.span > MULTI_YEAR
        if multi:
            self.window = []
        pools = [([], []) for _ in range(years)]	# (indexes, cum weights)
        acc = [0.0] * years
        for i in range(n):
            lac = r.random() < a.lac_share
            self.lac.append(lac)
            # Skewed rates: a few children go missing very often.
            w = r.paretovariate(2.5) * (LAC_WEIGHT if lac else 1.0)
            if multi:
                # Windows may start before the stream or end after it, so
                # that every year has as many active children.
                ln = int((1.5 + 2 * r.random()) * YEAR)
                a0 = self.start - ln + int(r.random() * (self.span + ln))
                self.window.append((a0, a0 + ln))
                ks = range(max(0, (a0 - self.start) // YEAR),
                    min(years, (a0 + ln - self.start) // YEAR + 1))
            else:
                ks = range(years)
            for k in ks:
                acc[k] += w
                pools[k][0].append(i)
                pools[k][1].append(acc[k])
        self.pools = pools
        self.years = years

    def child(self, i):
        c = self.children[i]
        if c is not None:
            return c
        r = self.rng
        c = Child()
        c.cid = "C-%06d" % (100001 + i)
        # Age at a reference time (the start, or for a long span some time
        # in it, so that cohorts age through): mostly 13-17, some 9-12.
        u = r.random()
        if u < 0.08:
            age_days = self.ri(9 * 365, 12 * 365)
        elif u < 0.25:
            age_days = self.ri(12 * 365, 13 * 365 + 200)
        else:
            age_days = self.ri(13 * 365 + 200, 17 * 365 + 200)
        if self.window is None:
            ref = self.start + int(r.random() * max(0, self.span - 365 * DAY))
            c.active = None
        else:
            # Old enough at the end of their window to still be a child.
            c.active = self.window[i]
            ref = c.active[0]
            age_days = min(age_days, (c.active[0] - c.active[1]) // DAY +
                18 * 365 - 30)
        born = ref - age_days * DAY
        c.dob = time.strftime("%Y-%m-%d", time.gmtime(born))
        # Episodes of missing children only: none from the 18th birthday.
        c.adult_at = born + int(18 * 365.25 * DAY)
        c.looked_after = self.lac[i]
        c.cp_plan = r.random() < (0.03 if c.looked_after else 0.12)
        borough = self.pick_borough()
        c.area = borough[0]
        c.cse = r.random() < (0.35 if c.looked_after else 0.12)
        c.cce = r.random() < (0.12 if c.looked_after else 0.07)
        flags = []
        if c.cse and r.random() < 0.6:
            flags.append("known_cse_risk")
        if c.cce and r.random() < 0.6:
            flags.append("known_cce_risk")
        if r.random() < 0.04:
            flags.append("learning_disability")
        if c.looked_after and r.random() < 0.3:
            flags.append("out_of_area_placement")
            c.home = self.carehome_in(self.pick_borough())
        elif c.looked_after:
            c.home = self.carehome_in(borough)
        else:
            c.home = self.address(borough[1], c.area, 0.7)
        c.flags = flags
        # A child at risk of exploitation has a place they get drawn to;
        # often an address of concern.
        # The first two flagged places (an offender's address and a
        # hotspot) each draw the first child at risk who comes along, so
        # that even a short stream has a child found at one.
        c.haunt = None
        c.pull = 0.25
        if (c.cse or c.cce) and self.flagged:
            if self.unclaimed:
                c.haunt = self.unclaimed.pop(0)[0]
                c.pull = 1.0		# found there the first time
            elif r.random() < 0.7:
                c.haunt = self.pick(self.flagged)[0]
        c.busy_until = 0
        c.reports = []
        c.plan_until = 0
        c.n = 0
        c.rep90 = c.rep30 = False
        self.children[i] = c
        return c

    def child_obj(self, c):
        o = {"id": c.cid, "dob": c.dob, "looked_after": c.looked_after,
            "cp_plan": c.cp_plan, "area": c.area}
        if c.flags:
            o["flags"] = list(c.flags)
        elif self.rng.random() < 0.5:
            o["flags"] = []
        return o

    def pick_child(self, t):
        """A child who can go missing at t (active, aged 8 to 17, not
        already missing), or None."""
        r = self.rng
        k = min(self.years - 1, max(0, (t - self.start) // YEAR))
        idx, cum = self.pools[k]
        if not idx:
            return None
        late = t >= self.end
        for tries in range(7 if late else 6):
            j = bisect.bisect_right(cum, r.random() * cum[-1])
            c = self.child(idx[min(j, len(idx) - 1)])
            if c.busy_until > t:
                continue
            if tries == 6:
                # Past the planned end (more lines asked for than the span
                # held) any child will do, so the stream always finishes.
                return c
            if t < c.adult_at and (late or (t > c.adult_at - 10 * 365 * DAY
                    and (c.active is None or c.active[0] <= t < c.active[1]))):
                return c
        return None

    # ---- scheduling ----

    def push(self, t, kind, data):
        self.tie += 1
        heapq.heappush(self.heap, (t, self.tie, kind, data))

    def flag_location(self, t, reason=None):
        r = self.rng
        if reason is None:
            reason = "rso_address" if r.random() < 0.4 else \
                "exploitation_hotspot"
        if r.random() < 0.25:
            town = self.pick(OUT_OF_FORCE)
            b = (town[0], town[1], 0)
        else:
            b = self.pick_borough()
        if reason == "rso_address":
            loc = self.address(b[1], b[0], 0.8)
        else:
            loc = self.address(b[1], b[0], 0.6,
                name=self.pick(HOTSPOT_PLACES))
        source = "visor" if reason == "rso_address" else "intel"
        entry = [loc, reason, False, source]
        self.flagged.append(entry)
        self.flag_of[id(loc)] = entry
        self.push(t, "flag", (entry, source))
        return entry

    def setup_flags(self):
        r = self.rng
        n = max(4, min(400, self.a.children // 8))
        for k in range(n):
            reason = ("rso_address", "exploitation_hotspot")[k % 2] \
                if k < 2 else None
            # (The first two before any episode starts.)
            e = self.flag_location(self.start + (60 * (k + 1) if k < 2 else
                self.ri(60, 6 * HOUR)), reason)
            # One hotspot is always withdrawn part-way through, and now and
            # then another flag is.
            if k == 1 or r.random() < 0.05:
                self.push(self.start + int(self.span * (0.3 + 0.4 * r.random())),
                    "clear", (e, e[3]))

    def claim_first_flags(self):
        self.unclaimed = self.flagged[:2]

    def new_episode(self, t):
        """Start an episode at t and schedule its whole lifecycle."""
        c = self.pick_child(t)
        if c is None:
            return
        rnd = self.rng.random
        year = time.gmtime(t).tm_year
        n = self.seq_episode.get(year, 0) + 1
        self.seq_episode[year] = n
        self.year_children.setdefault(year, set()).add(c.cid)
        ep = "MP-%d-%06d" % (year, n)
        # Recent episodes: drives plans and the "frequent" sign.
        reports = [x for x in c.reports if x > t - 365 * DAY]
        reports.append(t)
        c.reports = reports
        recent90 = 0
        recent30 = 0
        for x in reports:
            if x > t - 90 * DAY:
                recent90 += 1
                if x > t - 30 * DAY:
                    recent30 += 1
        c.n += 1
        if recent90 >= 3:
            c.rep90 = True
        if recent30 >= 2:
            c.rep30 = True

        # How long until found: 79% within 24 h, 90% within 2 days.
        u = rnd()
        if u < 0.55:
            dur = HOUR // 2 + int(rnd() * (7.5 * HOUR))
        elif u < 0.79:
            dur = 8 * HOUR + int(rnd() * (16 * HOUR))
        elif u < 0.90:
            dur = 24 * HOUR + int(rnd() * (24 * HOUR))
        elif u < 0.98:
            dur = 2 * DAY + int(rnd() * (5 * DAY))
        else:
            dur = 7 * DAY + int(rnd() * (23 * DAY))
        c.busy_until = t + dur

        # Grade: absent is the old bottom tier, mostly no apparent risk.
        absent = rnd() < 0.22
        if absent:
            risk = "no_apparent_risk" if rnd() < 0.7 else "low"
        else:
            u = rnd()
            risk = "low" if u < 0.3 else "medium" if u < 0.85 else "high"
        at_risk = c.cse or c.cce
        tf = t + dur
        # (time, tie, kind, data): the tie keeps the heap order total and
        # the output deterministic.
        todo = [(t, "reported", (ep, c, absent, risk, recent90)),
            (tf, "found", (ep, c, dur))]
        if dur > 2 * HOUR and rnd() < 0.35:
            todo.append((t + int(dur * (0.15 + 0.65 * rnd())), "updated",
                (ep, c, absent, risk)))
        # Prevention interview (police), usually within a day.
        if rnd() < 0.85:
            todo.append((tf + 1200 + int(rnd() * (20 * HOUR - 1200)),
                "interview", (ep, c, "prevention")))
        # Return home interview (local authority): 63% of those done are
        # within 72 h, the rest late; about one in four never happens.
        if rnd() < 0.75:
            if rnd() < 0.63:
                d = 4 * HOUR + int(rnd() * (68 * HOUR - 600))
            else:
                d = 72 * HOUR + 600 + int(rnd() * (9 * DAY - 600))
            todo.append((tf + d, "interview", (ep, c, "return_home")))
        # Social care records what it learns.
        if rnd() < (0.35 if at_risk else 0.06):
            todo.append((tf + HOUR + int(rnd() * (14 * DAY - HOUR)),
                "indicator", (ep, c)))
        # Repeats lead to strategy discussions and trigger plans.
        if recent90 >= 3 and c.plan_until <= t and rnd() < 0.6:
            c.plan_until = t + 60 * DAY
            todo.append((tf + 6 * HOUR + int(rnd() * (10 * DAY - 6 * HOUR)),
                "plan", (ep, c, "strategy_discussion")))
            todo.append((tf + 2 * DAY + int(rnd() * (19 * DAY)), "plan",
                (ep, c, "trigger_plan")))
        elif rnd() < 0.03:
            todo.append((tf + DAY + int(rnd() * (19 * DAY)), "plan",
                (ep, c, "safety_plan")))
        todo.append((tf + 2 * HOUR + int(rnd() * (5 * DAY - 2 * HOUR)),
            "closed", (ep, c)))
        heap = self.heap
        tie = self.tie
        for when, kind, data in todo:
            tie += 1
            heapq.heappush(heap, (when, tie, kind, data))
        self.tie = tie

    # ---- event bodies ----
    #
    # Lines are built as text: every string put in by hand here comes from
    # the tables above (no character needs escaping); locations and child
    # profiles are encoded once and cached.  json.dumps per line was too slow.

    def head(self, t, typ, source):
        self.seq_event += 1
        clock = self.clock
        d, sec = divmod(t, DAY)
        if d != clock.day:
            clock.fmt(t)
        return '{"id":"E-%06d","type":"%s","at":"%s%s","source":"%s"' % (
            self.seq_event, typ, clock.prefix, clock.tod[sec], source)

    def loc_json(self, loc):
        """The JSON of a long-lived location (homes, placements, public
        places, flagged places), cached by id()."""
        j = self.loc_cache.get(id(loc))
        if j is None:
            j = self.enc(loc)
            self.loc_cache[id(loc)] = j
        return j

    def vary_json(self, loc, cache=True):
        """The same place as another sender might type it: a location
        keyed by postcode+address, with case and spacing changed."""
        r = self.rng.random()
        if r >= 0.15 or "uprn" in loc:
            return self.loc_json(loc) if cache else self.enc(loc)
        v = dict(loc)
        if r < 0.075:
            v["address"] = loc["address"].upper()
            v["postcode"] = loc["postcode"].replace(" ", "")
        else:
            v["address"] = loc["address"].lower().replace(" ", "  ", 1)
            v["postcode"] = loc["postcode"].lower()
        return self.enc(v)

    def signs(self, c, k):
        pick = self.pick_cse if (c.cse or not c.cce) else self.pick_cce
        out = []
        for _ in range(k):
            s = pick()
            if s not in out:
                out.append(s)
        return out

    @staticmethod
    def strlist(lst):
        return '["' + '","'.join(lst) + '"]'

    def build(self, t, kind, data):
        rnd = self.rng.random
        r = self.rng
        if kind == "reported":
            ep, c, absent, risk, recent90 = data
            s = self.head(t, "episode.reported", "cad")
            # Now and then the profile changes: a child comes into care or
            # gets a plan, or a marker is added.
            u = rnd()
            if u < 0.02 and not c.looked_after:
                c.looked_after = True
            elif u < 0.04:
                c.cp_plan = not c.cp_plan
            elif u < 0.07 and c.cse and "known_cse_risk" not in c.flags:
                c.flags.append("known_cse_risk")
            child = '{"id":"%s","dob":"%s","looked_after":%s,' \
                '"cp_plan":%s,"area":"%s"' % (c.cid, c.dob,
                "true" if c.looked_after else "false",
                "true" if c.cp_plan else "false", c.area)
            if c.flags:
                child += ',"flags":' + self.strlist(c.flags) + "}"
            elif rnd() < 0.5:
                child += ',"flags":[]}'
            else:
                child += "}"
            s += ',"episode":"%s","child":%s,"category":"%s"' % (ep, child,
                "absent" if absent else "missing")
            if rnd() < 0.95:
                s += ',"risk":"%s"' % risk
            if rnd() < 0.9:
                s += ',"last_seen":' + self.vary_json(c.home)
            ind = []
            if recent90 >= 3 and rnd() < 0.5:
                ind.append("missing_frequent")
            if (c.cse or c.cce) and rnd() < 0.3:
                for x in self.signs(c, 1 + int(rnd() * 2)):
                    if x not in ind:
                        ind.append(x)
            if ind:
                s += ',"indicators":' + self.strlist(ind)
            return s + "}"
        if kind == "updated":
            ep, c, absent, risk = data
            s = self.head(t, "episode.updated", "cad")
            s += ',"episode":"%s"' % ep
            u = rnd()
            changed = True
            if absent and u < 0.3:
                s += ',"category":"missing","risk":"medium"'
            elif u < 0.7:
                i = RISKS.index(risk)
                i = min(3, i + 1) if rnd() < 0.75 else max(0, i - 1)
                s += ',"risk":"%s"' % RISKS[i]
            else:
                changed = False
            if (c.cse or c.cce) and rnd() < 0.4:
                s += ',"indicators":' + self.strlist(
                    self.signs(c, 1 + int(rnd() * 2)))
                changed = True
            if not changed or rnd() < 0.7:
                s += ',"note":"%s"' % self.pick(NOTES)
            return s + "}"
        if kind == "found":
            ep, c, dur = data
            s = self.head(t, "episode.found", "cad")
            s += ',"episode":"%s"' % ep
            at_risk = c.cse or c.cce
            u = rnd()
            out_of_area = False
            temp = False
            if c.haunt is not None and u < c.pull:
                c.pull = 0.25
                loc = c.haunt
                out_of_area = loc["area"] in OUT_OF_FORCE_AREAS
            elif u < 0.45:
                loc = c.home
            elif u < (0.62 if c.cce else 0.9):
                loc = self.place_in(self.pick_borough())
            else:
                town = self.pick(OUT_OF_FORCE)
                loc = self.address(town[1], town[0], 0.3,
                    name=self.pick(PLACES) if rnd() < 0.6 else None)
                out_of_area = True
                temp = True
            if c.haunt is None and u > 0.995 and self.flagged:
                loc = self.pick(self.flagged)[0]		# by chance
                temp = False
            fl = self.flag_of.get(id(loc))
            if fl is not None:
                self.found_at[fl[1]] = self.found_at.get(fl[1], 0) + 1
            # (A one-off place is not cached: the cache is keyed by id()
            # and only long-lived locations keep theirs.)
            found = self.vary_json(loc, cache=not temp)[:-1]
            if out_of_area or rnd() < 0.1:
                found += ',"out_of_area":%s' % (
                    "true" if out_of_area else "false")
            with_ = rnd() < (0.35 if at_risk else 0.1)
            if with_:
                self.seq_person += 1
                found += ',"with":["P-%06d"' % (200000 + self.seq_person)
                if rnd() < 0.3:
                    self.seq_person += 1
                    found += ',"P-%06d"' % (200000 + self.seq_person)
                found += "]"
            s += ',"found":' + found + "}"
            ind = []
            if dur >= 12 * HOUR and rnd() < 0.5:
                ind.append("missing_overnight_or_longer")
            if out_of_area and rnd() < 0.6:
                ind.append("found_out_of_area")
            if loc is c.haunt and rnd() < 0.7:
                ind.append("address_of_concern")
            if with_ and at_risk and rnd() < 0.5:
                ind.append("found_with_unknown_adults")
            if at_risk and rnd() < 0.3:
                for x in self.signs(c, 1 + int(rnd() * 2)):
                    if x not in ind:
                        ind.append(x)
            if ind:
                s += ',"indicators":' + self.strlist(ind)
            return s + "}"
        if kind == "interview":
            ep, c, kind2 = data
            s = self.head(t, "interview.completed",
                "cad" if kind2 == "prevention" else "social-care")
            s += ',"child":{"id":"%s"},"episode":"%s","kind":"%s"' % (
                c.cid, ep, kind2)
            if (c.cse or c.cce) and rnd() < 0.35:
                s += ',"indicators":' + self.strlist(
                    self.signs(c, 1 + int(rnd() * 3)))
            elif rnd() < 0.05:
                s += ',"indicators":["%s"]' % self.pick_sc()
            return s + "}"
        if kind == "indicator":
            ep, c = data
            s = self.head(t, "indicator.recorded", "social-care")
            s += ',"child":{"id":"%s"},"indicator":"%s"' % (c.cid,
                self.pick_sc())
            if rnd() < 0.5:
                s += ',"episode":"%s"' % ep
            if rnd() < 0.3:
                s += ',"note":"Recorded at a multi-agency meeting."'
            return s + "}"
        if kind == "plan":
            ep, c, plan = data
            s = self.head(t, "plan.recorded", "social-care")
            s += ',"child":{"id":"%s"},"plan":"%s"' % (c.cid, plan)
            if rnd() < 0.7:
                s += ',"episode":"%s"' % ep
            return s + "}"
        if kind == "closed":
            ep, c = data
            s = self.head(t, "episode.closed", "cad")
            s += ',"episode":"%s"' % ep
            if rnd() < 0.9:
                s += ',"outcome":"%s"' % self.pick(OUTCOMES)
            return s + "}"
        if kind == "flag" or kind == "clear":
            entry, source = data
            if kind == "clear":
                if entry[2]:
                    return None
                entry[2] = True
            s = self.head(t, "location.flagged" if kind == "flag" else
                "location.cleared", source)
            return s + ',"location":%s,"reason":"%s"}' % (
                self.loc_json(entry[0]), entry[1])
        raise AssertionError(kind)

    # ---- the stream ----

    def run(self, out):
        a, r = self.a, self.rng
        n = a.events
        self.setup_flags()
        self.claim_first_flags()
        # Episodes arrive as a Poisson process sized so that n events
        # cover the span (EVENTS_PER_EPISODE measured on long runs).
        rate = n / (EVENTS_PER_EPISODE * self.span)
        t_next = self.start + HOUR + int(r.expovariate(rate))
        late_rate = 0.0 if a.no_late else a.late_rate
        dup_rate = 0.0 if a.no_duplicates else a.dup_rate
        held = []		# (release position, tie, line)
        recent = []		# ring of recent lines, for duplicates
        ring = 512
        buf = []
        emitted = 0
        stats = self.stats
        heap = self.heap
        last_t = None
        while emitted < n:
            # Due held-back (late) lines first.
            if held and held[0][0] <= emitted:
                line = heapq.heappop(held)[2]
            elif heap and heap[0][0] <= t_next:
                t, _, kind, data = heapq.heappop(heap)
                line = self.build(t, kind, data)
                if line is None:
                    continue
                stats[kind] += 1
                last_t = t
                if kind != "reported" and kind != "flag" and \
                        late_rate and r.random() < late_rate:
                    self.tie += 1
                    heapq.heappush(held, (emitted + self.ri(3, 120),
                        self.tie, line))
                    self.lates += 1
                    continue
                if dup_rate:
                    if len(recent) < ring:
                        recent.append(line)
                    else:
                        recent[emitted % ring] = line
            else:
                self.new_episode(t_next)
                t_next += max(1, int(r.expovariate(rate)))
                continue
            buf.append(line)
            emitted += 1
            if dup_rate and emitted < n and recent and r.random() < dup_rate:
                buf.append(self.pick(recent))
                emitted += 1
                self.dups += 1
            if len(buf) >= 8192:
                buf.append("")
                out.write("\n".join(buf))
                buf = []
        if buf:
            buf.append("")
            out.write("\n".join(buf))
        out.flush()
        self.last_t = last_t
        self.emitted = emitted


# Average lines per episode, including flags; keeps the stream's end near
# start + years.
EVENTS_PER_EPISODE = 5.24
# Looked-after children go missing about this many times as often as others,
# and the child population is sized so that the children who do go missing
# average about 2.9 episodes a year (domain brief section 7: LAC are ~19% of
# missing children but ~36% of episodes, ~6 episodes each a year).
LAC_WEIGHT = 3.0
EPISODES_PER_CHILD_YEAR = 2.5
# Over several years a child's episodes fall in more than one calendar
# year, so the population is sized on a higher figure to give about 2.9
# episodes per child who went missing in each calendar year (--stats, "by
# year of report").  Single-year streams are unchanged.
EPISODES_PER_CHILD_YEAR_MULTI = 2.95
OUT_OF_FORCE_AREAS = frozenset(t[0] for t in OUT_OF_FORCE)


def parse_start(s):
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("not an RFC 3339 time: %r" % s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp())


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Generate a realistic, seeded misperd event stream "
        "(NDJSON) on stdout.")
    p.add_argument("--seed", type=int, default=1,
        help="random seed (default 1); same arguments, same bytes")
    p.add_argument("--events", type=int, default=10000,
        help="number of lines to write (default 10000)")
    p.add_argument("--children", type=int, default=None,
        help="number of children (default: about 2.9 episodes per child "
        "per year)")
    p.add_argument("--start", type=parse_start,
        default=parse_start("2025-01-01T00:00:00Z"),
        help="event time of the start (default 2025-01-01T00:00:00Z)")
    p.add_argument("--years", type=float, default=1.0,
        help="years of event time the stream covers (default 1)")
    p.add_argument("--lac-share", type=float, default=0.14,
        help="share of the child population who are looked after "
        "(default 0.14: about one in five of the children who go missing)")
    p.add_argument("--late-rate", type=float, default=0.01,
        help="share of lines sent late, after later events (default 0.01)")
    p.add_argument("--dup-rate", type=float, default=0.005,
        help="share of lines sent twice, exactly (default 0.005)")
    p.add_argument("--no-late", action="store_true",
        help="strict event-time order")
    p.add_argument("--no-duplicates", action="store_true",
        help="every line distinct (every id once)")
    p.add_argument("--stats", action="store_true",
        help="print a summary to stderr")
    a = p.parse_args(argv)
    if a.events < 1:
        p.error("--events must be at least 1")
    if a.years <= 0:
        p.error("--years must be positive")
    if not 0 <= a.late_rate < 0.5 or not 0 <= a.dup_rate < 0.5:
        p.error("--late-rate and --dup-rate must be in [0, 0.5)")
    if a.children is None:
        # Children's active years within the stream: all of it up to 1.2
        # years, else part of a window of 1.5 to 3.5 years (2.5 on
        # average) placed anywhere overlapping the stream.
        episodes = a.events / EVENTS_PER_EPISODE
        active = a.years if a.years <= 1.2 else \
            a.years * 2.5 / (a.years + 2.5)
        a.children = max(5, round(episodes / (active *
            (EPISODES_PER_CHILD_YEAR if a.years <= 1.2 else
            EPISODES_PER_CHILD_YEAR_MULTI))))
    if a.children < 1:
        p.error("--children must be at least 1")

    g = Gen(a)
    t0 = time.monotonic()
    try:
        g.run(sys.stdout)
    except BrokenPipeError:
        # The reader went away (e.g. "| head"): not an error.
        sys.stderr.close()
        return 0
    if a.stats:
        dt = time.monotonic() - t0
        seen = [c for c in g.children if c is not None and c.n]
        w = sys.stderr.write
        w("lines %d in %.2fs (%.0f/s); children %d (of %d), looked after "
            "%d; episodes %d\n" % (g.emitted, dt, g.emitted / max(dt, 1e-9),
            len(seen), a.children, sum(1 for c in seen if c.looked_after),
            sum(g.seq_episode.values())))
        lac = [c for c in seen if c.looked_after]
        neps = sum(c.n for c in seen)
        w("episodes per child %.2f (looked after %.2f, others %.2f); "
            "looked after: %.0f%% of children, %.0f%% of episodes; most "
            "episodes for one child %d\n" % (neps / max(1, len(seen)),
            sum(c.n for c in lac) / max(1, len(lac)),
            sum(c.n for c in seen if not c.looked_after) /
            max(1, len(seen) - len(lac)), 100 * len(lac) / max(1, len(seen)),
            100 * sum(c.n for c in lac) / max(1, neps),
            max((c.n for c in seen), default=0)))
        w("children with 3+ episodes in 90 days %d; looked after with 2+ "
            "in 30 days %d; found at a flagged place: %s\n" % (
            sum(1 for c in seen if c.rep90),
            sum(1 for c in lac if c.rep30),
            ", ".join("%s %d" % (k, g.found_at[k])
                for k in sorted(g.found_at)) or "none"))
        # The brief's own measure (section 7): incidents per child who
        # went missing, within a year.
        w("by year of report: %s\n" % "; ".join("%d: %d children, %d "
            "episodes, %.2f each" % (y, len(g.year_children[y]),
            g.seq_episode[y], g.seq_episode[y] / len(g.year_children[y]))
            for y in sorted(g.year_children)))
        w("late %d, duplicate %d; last event time %s\n" % (g.lates, g.dups,
            g.clock.fmt(g.last_t) if g.last_t is not None else "-"))
        for k, typ in KINDS:
            w("  %-20s %d\n" % (typ, g.stats[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
