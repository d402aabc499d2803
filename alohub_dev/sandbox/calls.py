"""Deterministic call data for the AloHub sandbox, and the sandbox's own record of it.

Each day's calls come from ``random.Random(f"{seed}:{day}")``, so a day looks the same whatever
else was asked before it. The data carries the traps the vendor document warns of: a call joined
to several customers comes back as several rows with one ``callId``; calls start exactly at
00:00:00 and 23:59:59 local; seconds are strings; empty values are ``""``; some answered calls
have no ``url`` in the list although the detail has a ``recordingUrl`` (now, later, or never);
a few calls are of a type other than inbound (0) or outbound (1), seen only without a filter.

For the analytics it also carries: customers who call again (a pool of returning customers
drawn from the seed alone), one customer's number written as ``0912345678``, ``84912345678``,
``+84 912 345 678`` or ``84-912-345-678``, inbound callers that are not customers (service
numbers), outbound callbacks and customers' own retries after abandoned calls, and every day
a 23:50 abandon whose callback comes after midnight, in the next day's calls (both drawn from
the abandon day's own seed, so a day never depends on which days were generated before it).
"""

from __future__ import annotations

import bisect
import random
import string
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from alohub_dev.sandbox.vendor import VIETNAM as ICT
from alohub_dev.sandbox.vendor import today_in_vietnam as local_today
from alohub_dev.sandbox.vendor import vendor_time as format_alohub_time
from alohub_dev.sandbox.volumes import VolumeModel, inbound_offsets, other_offsets

HOURLY_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 10, 18, 20, 20, 16, 10, 14, 18, 18, 16, 12, 8, 6, 4, 3, 2, 1]
AGENTS = [
    "hoa.nguyen",
    "minh.tran",
    "lan.pham",
    "tuan.le",
    "thu.vo",
    "quang.dang",
    "mai.bui",
    "son.do",
]
HOTLINES = ["19006868", "alohub2", "02873001234"]
CUSTOMER_NAMES = [
    "Nguyễn Văn An",
    "Trần Thị Bích",
    "Lê Hoàng Long",
    "Phạm Thu Hà",
    "Võ Minh Khôi",
    "Đặng Ngọc Ánh",
    "Bùi Quốc Việt",
    "Hồ Thị Xuân Hương",
    "Công ty TNHH Ánh Dương",
    "Khách lẻ 🎧",
]
DESCRIPTIONS = {
    ("0", True): "INBOUND-Cuộc gọi thành công",
    ("0", False): "INBOUND-Khách hàng kết thúc trước khi timeout",
    ("1", True): "OUTBOUND-Cuộc gọi thành công",
    ("1", False): "OUTBOUND-Khách hàng không nghe máy",
    ("2", True): "INTERNAL-Cuộc gọi nội bộ",
    ("2", False): "INTERNAL-Máy nhánh không trả lời",
}

# What became of an answered call's recording.
RECORDING_IN_LIST = "in_list"  # the list has the url
RECORDING_IN_DETAIL = "in_detail"  # the list's url is "", the detail has it already
RECORDING_DELAYED = "delayed"  # the detail has it only after the processing delay
RECORDING_NEVER = "never"  # never recorded: the detail's recordingUrl stays ""
RECORDING_NONE = "none"  # not answered: nothing to record


@dataclass
class SandboxCall:
    call_id: str
    call_type: str  # "0" inbound, "1" outbound, "2" internal (an undocumented other type)
    caller: str
    called: str
    agent_id: str
    start_time: datetime
    first_ring_time: datetime
    first_connect_time: datetime | None
    end_time: datetime
    waiting_seconds: int
    acd_seconds: int
    description: str
    customer_names: list[str]
    recording: str
    recording_url: str = ""
    customer: str | None = None  # the customer's number in national form; None: not a customer

    @property
    def answered(self) -> bool:
        return self.first_connect_time is not None

    def list_rows(self) -> list[dict[str, Any]]:
        """The list API's rows for this call: one per joined customer (the backend's 1-n join)."""
        base = {
            "callId": self.call_id,
            "caller": self.caller,
            "called": self.called,
            "startTime": format_alohub_time(self.start_time),
            "waitingTime": str(self.waiting_seconds),
            "firstRingTime": format_alohub_time(self.first_ring_time),
            "firstConnectTime": format_alohub_time(self.first_connect_time)
            if self.first_connect_time
            else "",
            "agentId": self.agent_id,
            "endTime": format_alohub_time(self.end_time),
            "acdTime": str(self.acd_seconds),
            "description": self.description,
            "url": self.recording_url if self.recording == RECORDING_IN_LIST else "",
        }
        return [{**base, "customerName": name} for name in self.customer_names]

    def rows_in_progress(self, now: datetime) -> list[dict[str, Any]]:
        """The list rows of a call that has started but not ended by ``now``: what is known so
        far (no end time, no end status, no recording; the wait counted up to now)."""
        connected = self.first_connect_time is not None and self.first_connect_time <= now
        waited = self.waiting_seconds if connected else int((now - self.start_time).total_seconds())
        return [
            {
                **row,
                "waitingTime": str(waited),
                "firstRingTime": row["firstRingTime"] if self.first_ring_time <= now else "",
                "firstConnectTime": row["firstConnectTime"] if connected else "",
                "agentId": self.agent_id if connected or self.call_type == "1" else "",
                "endTime": "",
                "acdTime": str(min(self.acd_seconds, waited)),
                "description": "",
                "url": "",
            }
            for row in self.list_rows()
        ]

    def detail(self, recordings_ready: bool) -> dict[str, Any]:
        """The detail API's object: other names, numbers instead of strings."""
        has_url = self.recording in (RECORDING_IN_LIST, RECORDING_IN_DETAIL) or (
            self.recording == RECORDING_DELAYED and recordings_ready
        )
        return {
            "callId": self.call_id,
            "caller": self.caller,
            "called": self.called,
            "agentId": self.agent_id,
            "startTime": format_alohub_time(self.start_time),
            "endTime": format_alohub_time(self.end_time),
            "ringTime": format_alohub_time(self.first_ring_time),
            "connectTime": format_alohub_time(self.first_connect_time)
            if self.first_connect_time
            else "",
            "answerTime": self.waiting_seconds if self.answered else 0,
            "duration": int((self.end_time - self.start_time).total_seconds()),
            "callType": self.call_type,
            "description": self.description,
            "customerName": self.customer_names[0],
            "recordingUrl": self.recording_url if has_url else "",
        }

    def truth(self) -> dict[str, Any]:
        """The sandbox's own record of the call, in the warehouse's vocabulary (for tests)."""
        talk = (
            int((self.end_time - self.first_connect_time).total_seconds())
            if self.first_connect_time
            else None
        )
        return {
            "call_id": self.call_id,
            "call_date": self.start_time.astimezone(ICT).date(),
            "direction": {"0": "inbound", "1": "outbound"}.get(self.call_type, "unknown"),
            "call_type": self.call_type,
            "caller": self.caller,
            "called": self.called,
            "agent_id": self.agent_id or None,
            "start_time": self.start_time,
            "first_ring_time": self.first_ring_time,
            "first_connect_time": self.first_connect_time,
            "end_time": self.end_time,
            "waiting_seconds": self.waiting_seconds,
            "acd_seconds": self.acd_seconds,
            "talk_seconds": talk,
            "description": self.description,
            "customer_names": list(dict.fromkeys(self.customer_names)),
            "recording_url": self.recording_url
            if self.recording == RECORDING_IN_LIST and self.recording_url
            else None,
            "answered": self.answered,
            "recording": self.recording,
        }


@dataclass
class CallStore:
    """Every call the sandbox knows, generated a day at a time on first use."""

    seed: int = 7
    first_day: date = field(default_factory=lambda: local_today() - timedelta(days=13))
    last_day: date = field(default_factory=local_today)
    calls_per_day: int = 300
    other_type_share: float = 0.02
    tenant: str = "sandbox"
    #: With a model: inbound volumes with a weekly pattern, a trend and holidays (volumes.py)
    #: instead of exactly ``calls_per_day`` calls a day.
    volume_model: VolumeModel | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._days: dict[date, list[SandboxCall]] = {}
        self._rows: dict[date, list[dict[str, Any]]] = {}
        self._by_id: dict[str, SandboxCall] = {}
        # The pages of one window are asked one after another: keep the window's rows.
        self._windows: dict[tuple, tuple[int, list[dict[str, Any]]]] = {}
        self._version = 0
        self._late = 0

    # ----------------------------------------------------------------------------- reading

    def calls_on(self, day: date) -> list[SandboxCall]:
        """Every call that starts on ``day`` (local), newest first."""
        with self._lock:
            return list(self._day(day))

    def find(self, call_id: str) -> SandboxCall | None:
        with self._lock:
            if call_id not in self._by_id:
                try:
                    day = datetime.strptime(call_id[:8], "%Y%m%d").date()
                except ValueError:
                    return None
                self._day(day)
            return self._by_id.get(call_id)

    def list_rows(
        self,
        start: datetime | None,
        end: datetime | None,
        call_type: int | None,
        now: datetime,
        listing: str = "ended",
        delay: timedelta = timedelta(0),
    ) -> list[dict[str, Any]]:
        """The list API's matching rows, newest first, repeats adjacent.

        Filters by call start, both ends inclusive. ``listing`` "ended": a call shows once it
        has ended by ``now`` (and ``delay`` more), as in a call center that reports finished
        calls; "started": from its start, with no end time until it has ended.
        """
        lo = (start or datetime.combine(self.first_day, time(0), tzinfo=ICT)).astimezone(ICT)
        hi = (end or datetime.combine(self.last_day, time(23, 59, 59), tzinfo=ICT)).astimezone(ICT)
        key = (lo, hi, call_type)
        with self._lock:
            cached = self._windows.get(key)
            if cached and cached[0] == self._version:
                return cached[1]
            rows: list[dict[str, Any]] = []
            unfinished = False
            day = min(hi.date(), self.last_day)
            while day >= max(lo.date(), self.first_day):
                for call, call_rows in zip(self._day(day), self._rows[day], strict=True):
                    if not (lo <= call.start_time <= hi):
                        continue
                    if listing == "started":
                        if call.start_time > now:
                            unfinished = True
                            continue
                        if call.end_time > now:
                            unfinished = True
                            call_rows = call.rows_in_progress(now)
                    elif call.end_time + delay > now:
                        unfinished = True
                        continue
                    if call_type is not None and call.call_type != str(call_type):
                        continue
                    rows.extend(call_rows)
                day -= timedelta(days=1)
            if not unfinished:  # a window still filling up is computed afresh each time
                if len(self._windows) > 64:
                    self._windows.clear()
                self._windows[key] = (self._version, rows)
        return rows

    def add_call(self, call: SandboxCall) -> None:
        """Adds a late call (drift tests): it shows from the next request on."""
        with self._lock:
            day = call.start_time.astimezone(ICT).date()
            calls = self._day(day)
            calls.append(call)
            calls.sort(key=lambda c: (c.start_time, c.call_id), reverse=True)
            self._rows[day] = [c.list_rows() for c in calls]
            self._by_id[call.call_id] = call
            self._version += 1

    def add_late_call(self, start: datetime | None, end: datetime | None) -> SandboxCall | None:
        """A call reported late, inside [start, end]: a copy of one there, with its own id."""
        lo = (start or datetime.combine(self.first_day, time(0), tzinfo=ICT)).astimezone(ICT)
        hi = (end or datetime.combine(self.last_day, time(23, 59, 59), tzinfo=ICT)).astimezone(ICT)
        with self._lock:
            day = max(lo.date(), self.first_day)
            candidates = (
                [c for c in self._day(day) if lo <= c.start_time <= hi]
                if day <= self.last_day
                else []
            )
            if not candidates:
                return None
            self._late += 1
            model = candidates[self._late % len(candidates)]
        late = SandboxCall(
            **{
                **model.__dict__,
                "call_id": f"{model.start_time:%Y%m%d%H%M%S}-LATE{self._late:04d}-001",
            }
        )
        self.add_call(late)
        return late

    # -------------------------------------------------------------------------- generation

    def _day(self, day: date) -> list[SandboxCall]:
        if day not in self._days:
            if not self.first_day <= day <= self.last_day:
                calls = []
            elif self.volume_model is not None:
                calls = generate_pattern_day(
                    day, self.seed, self.volume_model, self.other_type_share, self.tenant
                )
            else:
                calls = generate_day(
                    day, self.seed, self.calls_per_day, self.other_type_share, self.tenant
                )
            self._days[day] = calls
            self._rows[day] = [c.list_rows() for c in calls]
            self._by_id.update((c.call_id, c) for c in calls)
        return self._days[day]


#: Share of inbound calls from the pool of returning customers; the rest are new numbers.
RETURNING_SHARE = 0.4
#: Share of inbound callers that are not a customer's number (a service number, an extension).
NON_CUSTOMER_SHARE = 0.02
#: After an inbound abandon: chance of an outbound callback, chance of the customer's own retry.
CALLBACK_SHARE = 0.35
RETRY_SHARE = 0.2


def generate_day(
    day: date, seed: int, calls: int, other_type_share: float = 0.02, tenant: str = "sandbox"
) -> list[SandboxCall]:
    """One day's calls, newest first: exactly ``calls`` of them. Always includes calls at
    00:00:00 and 23:59:59, a 23:50 abandon, and (from 4 calls a day) the previous day's
    23:50 abandon's callback shortly after midnight."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    midnight = datetime.combine(day, time(0), tzinfo=ICT)
    customers = _customer_pool(seed, calls)
    specials = calls >= 4
    own = calls - 1 if specials else calls  # one slot is the previous night's callback
    offsets = [0, 86_399] if own >= 2 else [0][:own]
    hours = rng.choices(range(24), weights=HOURLY_WEIGHTS, k=max(own - len(offsets), 0))
    offsets += [h * 3600 + rng.randrange(3600) for h in hours]
    offsets.sort()
    starts = [midnight + timedelta(seconds=o) for o in offsets]
    made: list[SandboxCall | None] = [None] * len(starts)
    for i, start in enumerate(starts):
        if made[i] is None:
            made[i] = _make_call(rng, start, other_type_share, _pick_customer(rng, customers))
        _follow_up(rng, made[i], starts, made, customers)
    result = [c for c in made if c is not None]
    if specials:
        abandon, _ = _late_abandon(day, seed, customers)
        result[-2] = abandon  # replaces the last call before 23:59:59
        _, callback = _late_abandon(day - timedelta(days=1), seed, customers)
        result.append(callback)
    used_ids: set[str] = set()
    for call in result:
        while call.call_id in used_ids:
            call.call_id = call.call_id[:-3] + f"{rng.randrange(1000):03d}"
        used_ids.add(call.call_id)
        call.recording_url = (
            f"https://records.alohub.vn/{tenant}/{call.call_id}.mp3"
            if call.recording != RECORDING_NONE
            else ""
        )
    result.sort(key=lambda c: (c.start_time, c.call_id), reverse=True)
    return result


def generate_pattern_day(
    day: date,
    seed: int,
    model: VolumeModel,
    other_type_share: float = 0.02,
    tenant: str = "sandbox",
) -> list[SandboxCall]:
    """One day's calls under a volume model, newest first: the inbound calls of each hotline as
    the model draws them (their expected numbers are the model's), plus outbound calls and calls
    of another type. No callbacks or retries are added, so the inbound volume stays the model's."""
    rng = random.Random(f"{seed}:{day.isoformat()}:pattern")
    midnight = datetime.combine(day, time(0), tzinfo=ICT)
    customers = _customer_pool(seed, round(model.base_calls_per_day))
    result = []
    for hotline, offset in inbound_offsets(model, seed, day):
        start = midnight + timedelta(seconds=offset)
        call = _make_call(rng, start, 0.0, _pick_customer(rng, customers), call_type="0")
        call.called = hotline
        result.append(call)
    for offset in other_offsets(model, seed, day, model.outbound_per_inbound):
        start = midnight + timedelta(seconds=int(offset))
        result.append(_make_call(rng, start, 0.0, _pick_customer(rng, customers), call_type="1"))
    for offset in other_offsets(model, seed + 7, day, other_type_share):
        start = midnight + timedelta(seconds=int(offset))
        result.append(_make_call(rng, start, 0.0, _pick_customer(rng, customers), call_type="2"))
    used_ids: set[str] = set()
    for call in result:
        while call.call_id in used_ids:
            call.call_id = call.call_id[:-3] + f"{rng.randrange(1000):03d}"
        used_ids.add(call.call_id)
        call.recording_url = (
            f"https://records.alohub.vn/{tenant}/{call.call_id}.mp3"
            if call.recording != RECORDING_NONE
            else ""
        )
    result.sort(key=lambda c: (c.start_time, c.call_id), reverse=True)
    return result


def _customer_pool(seed: int, calls_per_day: int) -> list[str]:
    """Returning customers' numbers (mobiles, a tenth of them 11-digit landlines)."""
    rng = random.Random(f"{seed}:customers")
    return [_phone(rng) for _ in range(max(calls_per_day, 20))]


def _pick_customer(rng: random.Random, customers: list[str]) -> str:
    return rng.choice(customers) if rng.random() < RETURNING_SHARE else _phone(rng)


def _follow_up(
    rng: random.Random,
    call: SandboxCall,
    starts: list[datetime],
    made: list[SandboxCall | None],
    customers: list[str],
) -> None:
    """After an inbound abandon, a later call slot of the day may become an outbound callback
    to that customer, or the customer's own retry."""
    if call.call_type != "0" or call.answered or call.customer is None:
        return
    roll = rng.random()
    if roll >= CALLBACK_SHARE + RETRY_SHARE:
        return
    due = call.start_time + timedelta(minutes=rng.randint(2, 180))
    for j in range(bisect.bisect_left(starts, due), len(starts) - 1):  # never the last call
        if made[j] is None:
            kind = "1" if roll < CALLBACK_SHARE else "0"
            made[j] = _make_call(rng, starts[j], 0.0, call.customer, call_type=kind)
            return


def _late_abandon(day: date, seed: int, customers: list[str]) -> tuple[SandboxCall, SandboxCall]:
    """``day``'s 23:50 inbound abandon and its callback after midnight, from their own seed."""
    rng = random.Random(f"{seed}:{day.isoformat()}:late-abandon")
    customer = _pick_customer(rng, customers)
    start = datetime.combine(day, time(23, 50), tzinfo=ICT) + timedelta(seconds=rng.randrange(300))
    abandon = _make_call(rng, start, 0.0, customer, call_type="0", answered=False)
    while abandon.customer is None or abandon.waiting_seconds < 5:  # a real abandon
        abandon = _make_call(rng, start, 0.0, customer, call_type="0", answered=False)
    later = datetime.combine(day + timedelta(days=1), time(0, 5), tzinfo=ICT)
    callback = _make_call(
        rng,
        later + timedelta(seconds=rng.randrange(900)),
        0.0,
        customer,
        call_type="1",
        answered=True,
    )
    return abandon, callback


def _phone(rng: random.Random) -> str:
    """A customer's number in its national form: a mobile, or a tenth of the time a landline."""
    if rng.random() < 0.1:
        return "02" + "".join(rng.choices(string.digits, k=9))
    return rng.choice(["09", "08", "03", "07"]) + "".join(rng.choices(string.digits, k=8))


def _written(rng: random.Random, national: str) -> str:
    """The same number as a customer's phone or a CRM may write it."""
    subscriber = national[1:]
    groups = (
        [subscriber[:3], subscriber[3:6], subscriber[6:]]
        if len(subscriber) == 9
        else [subscriber[:2], subscriber[2:6], subscriber[6:]]
    )
    form = rng.choices(["national", "84", "+84 spaced", "84 dashed"], weights=[55, 15, 15, 15])[0]
    if form == "84":
        return "84" + subscriber
    if form == "+84 spaced":
        return "+84 " + " ".join(groups)
    if form == "84 dashed":
        return "84-" + "-".join(groups)
    return national


def _make_call(
    rng: random.Random,
    start: datetime,
    other_share: float,
    customer: str,
    call_type: str | None = None,
    answered: bool | None = None,
) -> SandboxCall:
    roll = rng.random()
    if call_type is None:
        call_type = "2" if roll < other_share else ("0" if roll < 0.65 else "1")
    answer_roll = rng.random() < (0.8 if call_type == "0" else 0.62)
    answered = answer_roll if answered is None else answered
    agent = rng.choice(AGENTS)
    ring_offset = rng.randint(0, 3)
    if answered:
        waiting = min(int(rng.expovariate(1 / 14)), 240) + ring_offset
    else:
        # Abandons: a share hang up within 5 s (short abandons), the rest after a while.
        waiting = rng.randint(0, 4) if rng.random() < 0.3 else rng.randint(5, 180)
    ring_offset = min(ring_offset, waiting)
    first_ring = start + timedelta(seconds=ring_offset)
    if answered:
        connect = start + timedelta(seconds=waiting)
        end = connect + timedelta(seconds=max(5, int(rng.expovariate(1 / 170))))
    else:
        connect = None
        end = start + timedelta(seconds=waiting + rng.randint(0, 2))
    number: str | None = customer
    if call_type == "0":
        if rng.random() < NON_CUSTOMER_SHARE:  # a service number or an internal transfer
            number = None
            caller = rng.choice(["18001090", "1900545411", str(1000 + rng.randrange(8))])
        else:
            caller = _written(rng, customer)
        called = rng.choice(HOTLINES)
        agent_id = agent if answered else ""
        acd = max(waiting - ring_offset, 0)
    elif call_type == "1":
        caller, called = str(1000 + AGENTS.index(agent)), _written(rng, customer)
        agent_id = agent  # the dialing agent, answered or not
        acd = 0
    else:
        number = None
        caller, called = str(1000 + rng.randrange(8)), str(1000 + rng.randrange(8))
        agent_id = agent if answered else ""
        acd = 0
    joins = rng.choices([1, 2, 3], weights=[72, 22, 6])[0]
    names = [customer] if rng.random() < 0.3 else []
    names += rng.sample(CUSTOMER_NAMES, k=joins)
    names = names[:joins]
    if answered:
        recording = rng.choices(
            [RECORDING_IN_LIST, RECORDING_IN_DETAIL, RECORDING_DELAYED, RECORDING_NEVER],
            weights=[70, 15, 10, 5],
        )[0]
    else:
        recording = RECORDING_NONE
    suffix = "".join(rng.choices(string.ascii_uppercase, k=8))
    return SandboxCall(
        call_id=f"{start:%Y%m%d%H%M%S}-{suffix}-{rng.randrange(1000):03d}",
        call_type=call_type,
        caller=caller,
        called=called,
        agent_id=agent_id,
        start_time=start,
        first_ring_time=first_ring,
        first_connect_time=connect,
        end_time=end,
        waiting_seconds=waiting,
        acd_seconds=acd,
        description=DESCRIPTIONS[(call_type, answered)],
        customer_names=names,
        recording=recording,
        customer=number,
    )
