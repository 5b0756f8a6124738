"""Ready-made segment layouts for hair, therapy and spa services (`GET /v1/segment-templates`)."""

from __future__ import annotations

from dataclasses import dataclass

from composite_booking.domain.segments import PausePolicy, Segment


@dataclass(frozen=True, slots=True)
class SegmentTemplate:
    key: str
    category: str
    name: str
    description: str
    pause_bookable_policy: PausePolicy
    segments: tuple[Segment, ...]


S = Segment

TEMPLATES: tuple[SegmentTemplate, ...] = (
    SegmentTemplate(
        "hair-root-colour",
        "hair",
        "Ansatzfärbung, waschen, schneiden, föhnen",
        "Root colour with processing time; the stylist serves others while the colour works.",
        PausePolicy.FREE,
        (
            S("A", "Färben", 30, 30),
            S("B", "Waschen", 15),
            S("C", "Schneiden", 30, 15),
            S("D", "Föhnen", 30),
        ),
    ),
    SegmentTemplate(
        "hair-balayage-toner",
        "hair",
        "Balayage mit Toner",
        "Freehand lightening, processing that may run longer, toner, then finish.",
        PausePolicy.FLEXIBLE,
        (
            S("A", "Balayage auftragen", 60, 30, 50),
            S("B", "Toner", 20, 15, 25),
            S("C", "Waschen und Föhnen", 40),
        ),
    ),
    SegmentTemplate(
        "hair-perm",
        "hair",
        "Dauerwelle",
        "Wrap, processing, neutralise, style.",
        PausePolicy.FREE,
        (
            S("A", "Wickeln", 45, 25),
            S("B", "Fixieren", 15, 10),
            S("C", "Styling", 30),
        ),
    ),
    SegmentTemplate(
        "hair-highlights-foils",
        "hair",
        "Foliensträhnen mit Schnitt",
        "Foils, processing, rinse, cut and blow-dry.",
        PausePolicy.FREE,
        (
            S("A", "Folien setzen", 50, 35),
            S("B", "Ausspülen", 15),
            S("C", "Schneiden und Föhnen", 45),
        ),
    ),
    SegmentTemplate(
        "therapy-assessment-session-review",
        "therapy",
        "Assessment, session, review",
        "The therapist stays with the client between parts (short notes, preparation).",
        PausePolicy.BLOCKED,
        (
            S("A", "Initial assessment", 45, 10),
            S("B", "Main therapy", 60, 15),
            S("C", "Review and planning", 20),
        ),
    ),
    SegmentTemplate(
        "therapy-physio-heat",
        "therapy",
        "Physiotherapy with heat pack",
        "Treatment, heat pack resting time (therapist free), mobilisation.",
        PausePolicy.FREE,
        (
            S("A", "Behandlung", 25, 20),
            S("B", "Mobilisation", 20),
        ),
    ),
    SegmentTemplate(
        "spa-facial-mask",
        "spa",
        "Facial with mask time",
        "Cleanse and peel, mask time that may be stretched, finishing massage.",
        PausePolicy.FLEXIBLE,
        (
            S("A", "Reinigung und Peeling", 25, 15, 25),
            S("B", "Maske abnehmen, Massage", 25),
        ),
    ),
    SegmentTemplate(
        "spa-massage-rest",
        "spa",
        "Massage with rest and closing",
        "Massage, a quiet rest the therapist supervises, closing treatment.",
        PausePolicy.NEVER,
        (
            S("A", "Massage", 50, 15),
            S("B", "Abschluss", 10),
        ),
    ),
    SegmentTemplate(
        "beauty-lash-lift",
        "beauty",
        "Lash lift and tint",
        "Prepare and lift, setting time, tint, finish.",
        PausePolicy.FREE,
        (
            S("A", "Vorbereiten und Liften", 20, 10),
            S("B", "Fixieren und Färben", 15, 8),
            S("C", "Pflege", 10),
        ),
    ),
)


def find_template(key: str) -> SegmentTemplate | None:
    return next((t for t in TEMPLATES if t.key == key), None)
