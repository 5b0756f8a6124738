"""Benchmark of the composite availability search against the naive minute-by-minute scan.

Run: `python bench/availability_engine.py` (from the repository root, with the package installed). It prints
a table and exits 0; the targets are printed beside the figures, they are not asserted anywhere.

Scenario (the brief's): a 14-day window in Europe/Berlin (crossing the 2026-03-29 DST switch), 10 staff
members working 09:00–18:00 local every day, N random but seeded bookings per staff member inside working
hours (start on a 5-minute grid, length drawn from a set; bookings may overlap and then merge into one busy
block), and the four-segment service A 30 + 30 pause, B 15, C 30 + 15 pause, D 30 under the `free` and the
`blocked` policy. Each search returns *every* slot of the fortnight (no limit), one per 15-minute start,
ranked across all ten staff members, as the frozen dataclasses the API renders. "naive" is
`brute_force_slots`, the minute-by-minute reference the property tests trust; both are run on the same data
in the same process and must agree.

Targets: 300 bookings/staff ≤ 5 ms median and ≥ 50× the naive scan; 3000 bookings/staff ≤ 12× the 300 time.
Random bookings at 10× saturate the calendar (few free intervals remain), which makes that row cheap; the
"sensitivity" rows show the costs that do grow: more fragments (short bookings) and many slots (light load).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from composite_booking.domain.availability import (
    CompositeSlot,
    FreeTime,
    SearchOptions,
    SearchWindow,
    ServicePlan,
    SlotSearchResult,
    find_composite_slots,
)
from composite_booking.domain.availability_reference import brute_force_slots
from composite_booking.domain.intervals import IntervalList, minute_of
from composite_booking.domain.segments import PausePolicy, Segment, StaffMode

BERLIN = ZoneInfo("Europe/Berlin")
FIRST_DAY = datetime(2026, 3, 23, tzinfo=BERLIN)
DAYS = 14
STAFF = range(1, 11)
ENGINE_RUNS = 31
NAIVE_RUNS = 3
SALON_LENGTHS = (15, 20, 30)
SEGMENTS = (
    Segment("A", "Färben", 30, 30),
    Segment("B", "Waschen", 15),
    Segment("C", "Schneiden", 30, 15),
    Segment("D", "Föhnen", 30),
)
FLEXIBLE_SEGMENTS = (
    Segment("A", "Aufhellen", 30, 30, 60),
    Segment("B", "Waschen", 15),
    Segment("C", "Toner", 30, 15, 45),
    Segment("D", "Föhnen", 30),
)
MIXED_SEGMENTS = (
    Segment("A", "Färben", 30, 30),
    Segment("B", "Waschen", 15, staff_mode=StaffMode.ANY),
    Segment("C", "Schneiden", 30, 15),
    Segment("D", "Föhnen", 30, staff_mode=StaffMode.ANY),
)


@dataclass(frozen=True)
class Row:
    label: str
    segments: tuple[Segment, ...]
    policy: PausePolicy
    bookings: int
    lengths: Sequence[int] = SALON_LENGTHS
    target: str = ""  # "fast" (≤ 5 ms, ≥ 50×) or "scaling" (≤ 12× the row before); "" for information


ROWS = (
    Row("free", SEGMENTS, PausePolicy.FREE, 300, target="fast"),
    Row("free", SEGMENTS, PausePolicy.FREE, 3000, target="scaling"),
    Row("blocked", SEGMENTS, PausePolicy.BLOCKED, 300, target="fast"),
    Row("blocked", SEGMENTS, PausePolicy.BLOCKED, 3000, target="scaling"),
    # sensitivity, no targets
    Row("free, 5-15 min bookings", SEGMENTS, PausePolicy.FREE, 300, lengths=(5, 10, 15)),
    Row("free, light load", SEGMENTS, PausePolicy.FREE, 30),
    Row("flexible", FLEXIBLE_SEGMENTS, PausePolicy.FLEXIBLE, 300),
    Row("flexible, light load", FLEXIBLE_SEGMENTS, PausePolicy.FLEXIBLE, 30),
    Row("free, B and D any staff", MIXED_SEGMENTS, PausePolicy.FREE, 300),
)


def free_time(bookings_per_staff: int, lengths: Sequence[int], seed: int = 42) -> FreeTime:
    rng = random.Random(seed)
    by_staff = {}
    for staff in STAFF:
        working = []
        for day in range(DAYS):
            date = FIRST_DAY + timedelta(days=day)
            opens = minute_of(datetime(date.year, date.month, date.day, 9, tzinfo=BERLIN))
            working.append((opens, opens + 9 * 60))
        busy = []
        for _ in range(bookings_per_staff):
            day_open, day_close = working[rng.randrange(DAYS)]
            length = rng.choice(lengths)
            start = day_open + 5 * rng.randrange((day_close - day_open - length) // 5 + 1)
            busy.append((start, start + length))
        by_staff[staff] = IntervalList.from_pairs(working).subtract(IntervalList.from_pairs(busy))
    return FreeTime(by_staff)


def median_ms(run: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> int:
    window = SearchWindow(FIRST_DAY, FIRST_DAY + timedelta(days=DAYS), BERLIN)
    now = FIRST_DAY - timedelta(days=1)
    options = SearchOptions(step_min=15)
    print(
        f"{DAYS}-day window, {len(STAFF)} staff, 4-segment service, every slot returned; "
        f"Python {sys.version.split()[0]}; engine: median of {ENGINE_RUNS} runs, "
        f"naive: median of {NAIVE_RUNS}"
    )
    header = (
        f"{'scenario':26} {'bookings':>8} {'free iv':>7} {'slots':>6} {'engine ms':>9} {'naive ms':>9} "
        f"{'speed-up':>8} {'agree':>5}  target"
    )
    print(header)
    print("-" * (len(header) + 40))
    previous_ms = 0.0
    for row in ROWS:
        plan = ServicePlan.for_staff(row.segments, row.policy, STAFF)
        free = free_time(row.bookings, row.lengths)

        def engine(plan: ServicePlan = plan, free: FreeTime = free) -> SlotSearchResult:
            return find_composite_slots(plan, free, window, now=now, options=options)

        def naive(plan: ServicePlan = plan, free: FreeTime = free) -> tuple[CompositeSlot, ...]:
            return brute_force_slots(plan, free, window, now=now, options=options)

        ms = median_ms(engine, ENGINE_RUNS)
        naive_ms = median_ms(naive, NAIVE_RUNS)
        slots = engine().slots
        agree = slots == naive()
        intervals = statistics.mean(len(free.of(s)) for s in STAFF)
        speed_up = naive_ms / ms
        if row.target == "fast":
            verdict = (
                f"<= 5 ms {'met' if ms <= 5 else 'MISSED'}, >= 50x {'met' if speed_up >= 50 else 'MISSED'}"
            )
        elif row.target == "scaling":
            growth = ms / previous_ms
            verdict = f"<= 12x the 300-booking time: {growth:.1f}x {'met' if growth <= 12 else 'MISSED'}"
        else:
            verdict = "(information)"
        previous_ms = ms
        print(
            f"{row.label:26} {row.bookings:>8} {intervals:>7.0f} {len(slots):>6} {ms:>9.2f} {naive_ms:>9.0f} "
            f"{speed_up:>7.0f}x {'yes' if agree else 'NO':>5}  {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
