"""Every customer-facing word of a notification, in German and English, and the chain in local time.

Dates are spelled out by hand rather than through the process locale: `strftime("%A")` depends on the
server's locale settings, and a notification must read the same on every replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from composite_booking.notifications.model import AppointmentView, Language, PauseView, SegmentView

EN_DASH = "–"


@dataclass(frozen=True, slots=True)
class Texts:
    weekdays: tuple[str, ...]  # Monday first, as date.weekday()
    months: tuple[str, ...]
    date_pattern: str  # fields: weekday, day, month, year
    time_suffix: str  # "Uhr" reads naturally after a German time; English needs nothing
    attachment_filename: str
    with_staff: str  # field: staff
    default_pause_label: str
    wait_in_salon: str
    staff_stays_reserved: str  # field: staff
    overview_heading: str
    part_of_chain: str  # fields: number, total, name
    confirmation_code: str
    notes: str
    local_time_note: str  # field: zone
    cancelled_prefix: str
    subjects: dict[str, str]  # by e-mail kind; fields: service, date, time
    intros: dict[str, str]  # by e-mail kind
    calendar_hints: dict[str, str]  # by e-mail kind; field: filename
    greeting: str  # field: name
    closing: str

    def long_date(self, day: date) -> str:
        return self.date_pattern.format(
            weekday=self.weekdays[day.weekday()],
            day=day.day,
            month=self.months[day.month - 1],
            year=day.year,
        )

    def clock_time(self, moment: datetime, zone: ZoneInfo) -> str:
        local = moment.astimezone(zone).strftime("%H:%M")
        return f"{local} {self.time_suffix}" if self.time_suffix else local


GERMAN = Texts(
    weekdays=("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    months=(
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    date_pattern="{weekday}, {day}. {month} {year}",
    time_suffix="Uhr",
    attachment_filename="termin.ics",
    with_staff="bei {staff}",
    default_pause_label="Einwirkzeit",
    wait_in_salon="Sie warten im Salon",
    staff_stays_reserved="{staff} bleibt für Sie reserviert",
    overview_heading="Ihr Termin im Überblick:",
    part_of_chain="Dieser Kalendereintrag ist Teil {number} von {total}: {name}.",
    confirmation_code="Bestätigungscode",
    notes="Hinweise",
    local_time_note="Alle Zeiten in Ortszeit ({zone}).",
    cancelled_prefix="Abgesagt",
    subjects={
        "confirmation": "Terminbestätigung: {service} am {date}, {time}",
        "reschedule": "Termin verschoben: {service} jetzt am {date}, {time}",
        "cancellation": "Termin abgesagt: {service} am {date}, {time}",
    },
    intros={
        "confirmation": "Ihr Termin ist bestätigt.",
        "reschedule": "Ihr Termin wurde verschoben. Das sind die neuen Zeiten:",
        "cancellation": "Ihr Termin wurde abgesagt. Diese Zeiten gelten nicht mehr:",
    },
    calendar_hints={
        "confirmation": "Den Termin für Ihren Kalender finden Sie im Anhang ({filename}).",
        "reschedule": "Der Anhang ({filename}) aktualisiert den Termin in Ihrem Kalender.",
        "cancellation": "Der Anhang ({filename}) entfernt den Termin aus Ihrem Kalender.",
    },
    greeting="Hallo {name},",
    closing="Viele Grüße",
)

ENGLISH = Texts(
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    months=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    date_pattern="{weekday}, {day} {month} {year}",
    time_suffix="",
    attachment_filename="appointment.ics",
    with_staff="with {staff}",
    default_pause_label="Processing time",
    wait_in_salon="you wait in the salon",
    staff_stays_reserved="{staff} stays reserved for you",
    overview_heading="Your appointment at a glance:",
    part_of_chain="This calendar entry is part {number} of {total}: {name}.",
    confirmation_code="Confirmation code",
    notes="Notes",
    local_time_note="All times are local time ({zone}).",
    cancelled_prefix="Cancelled",
    subjects={
        "confirmation": "Appointment confirmed: {service} on {date}, {time}",
        "reschedule": "Appointment moved: {service} now on {date}, {time}",
        "cancellation": "Appointment cancelled: {service} on {date}, {time}",
    },
    intros={
        "confirmation": "Your appointment is confirmed.",
        "reschedule": "Your appointment has been moved. These are the new times:",
        "cancellation": "Your appointment has been cancelled. These times no longer apply:",
    },
    calendar_hints={
        "confirmation": "The attachment ({filename}) adds the appointment to your calendar.",
        "reschedule": "The attachment ({filename}) updates the appointment in your calendar.",
        "cancellation": "The attachment ({filename}) removes the appointment from your calendar.",
    },
    greeting="Hello {name},",
    closing="Kind regards",
)

_BY_LANGUAGE = {Language.DE: GERMAN, Language.EN: ENGLISH}


def texts_for(language: Language) -> Texts:
    return _BY_LANGUAGE[language]


def time_range(starts_at: datetime, ends_at: datetime, zone: ZoneInfo) -> str:
    """`10:00–10:30` in the branch's wall-clock time (each instant converted on its own, so DST holds)."""
    return f"{starts_at.astimezone(zone):%H:%M}{EN_DASH}{ends_at.astimezone(zone):%H:%M}"


def segment_line(view: AppointmentView, segment: SegmentView, texts: Texts) -> str:
    line = f"{time_range(segment.starts_at, segment.ends_at, view.zone)} {segment.name}"
    if segment.staff_name:
        line += " " + texts.with_staff.format(staff=segment.staff_name)
    return line


def pause_line(view: AppointmentView, pause: PauseView, staff_name: str | None, texts: Texts) -> str:
    label = pause.label or texts.default_pause_label
    line = f"{time_range(pause.starts_at, pause.ends_at, view.zone)} {label}, {texts.wait_in_salon}"
    if pause.held and staff_name:
        line += f" ({texts.staff_stays_reserved.format(staff=staff_name)})"
    return line


def chain_lines(view: AppointmentView) -> list[str]:
    """The whole appointment, one line per segment and per pause, in the order the customer lives it."""
    texts = texts_for(view.customer.language)
    lines: list[str] = []
    for segment in view.segments:
        lines.append(segment_line(view, segment, texts))
        lines.extend(pause_line(view, p, segment.staff_name, texts) for p in view.pauses_after(segment.key))
    return lines
