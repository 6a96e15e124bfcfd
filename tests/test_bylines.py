"""Bylines and credit lines, line by line: every shape read, no sentence taken for a byline,
and no text that crashes the readers. (Whole documents: tests/data/documents/bylines/ and
credits/.)"""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.bylines import read_byline, read_credits


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("By Jane Doe", ("Jane Doe",)),
        ("By Jane Doe and John Roe", ("Jane Doe", "John Roe")),
        ("By Jane Doe & John Roe", ("Jane Doe", "John Roe")),
        ("By Jane Doe, Reuters", ("Jane Doe",)),
        ("By Jane Doe | Reuters", ("Jane Doe",)),
        ("By Jane Doe and John Roe · 3 min read", ("Jane Doe", "John Roe")),
        ("By Jane Doe and John Roe, Reuters", ("Jane Doe", "John Roe")),
        ("By Jane Doe, The Associated Press", ("Jane Doe",)),
        ("By Jane Doe, Staff Writer", ("Jane Doe",)),
        ("By Jane Doe, Reuters correspondent", ("Jane Doe",)),
        ("By Jane Doe, John Roe and Ann Poe", ("Jane Doe", "John Roe", "Ann Poe")),
        ("By JANE DOE", ("Jane Doe",)),
        ("BY JANE DOE AND JOHN ROE, REUTERS", ("Jane Doe", "John Roe")),
        ("BY MARY O'NEILL-MCDONALD", ("Mary O'Neill-McDonald",)),
        ("BY JUAN DE LA CRUZ", ("Juan de la Cruz",)),
        ("By Ursula von der Leyen", ("Ursula von der Leyen",)),
        ("By J. R. Smith", ("J. R. Smith",)),
        ("By Jane Doe in Caracas", ("Jane Doe",)),
        ("By Иван Петров", ("Иван Петров",)),
        ("By  Jane   Doe ", ("Jane Doe",)),
        ("By Jane Doe, John Roe, and Ann Poe", ("Jane Doe", "John Roe", "Ann Poe")),
        ("By Jane Doe; John Roe", ("Jane Doe", "John Roe")),
        ("By: Jane Doe", ("Jane Doe",)),
        ("BY: JANE DOE", ("Jane Doe",)),
        ("By Jane Doe / Reuters", ("Jane Doe",)),
        ("By Jane Doe / John Roe", ("Jane Doe", "John Roe")),
        ("By Jane Doe, Staff Writer / AP", ("Jane Doe",)),
        ("By Jane Doe, Senior Correspondent / Reuters", ("Jane Doe",)),
        ("By Jane Doe, Washington Post / Bloomberg", ("Jane Doe",)),
        ("By Jane Doe / John Roe, Staff Writers", ("Jane Doe", "John Roe")),
        ("By Jane Doe / John Roe and Ann Poe, Staff Writers", ("Jane Doe", "John Roe", "Ann Poe")),
        ("By JANE DOE / JOHN ROE, STAFF WRITERS", ("Jane Doe", "John Roe")),
        ("By Jane Doe, Reuters / John Roe, Staff Writer", ("Jane Doe", "John Roe")),
        ("By Jane Doe, Video Journalist", ("Jane Doe",)),
        ("By Jane Doe, Video Producer", ("Jane Doe",)),
        ("By Jane Doe / Staff Writer, Reuters", ("Jane Doe",)),
        ("By Jane Doe / Staff Writer, Los Angeles Times", ("Jane Doe",)),
        ("By Jane Doe / Staff Reporter, The Hindu", ("Jane Doe",)),
        ("By Jane Doe / Bureau Chief, Reuters", ("Jane Doe",)),
        ("By Jane Doe / Foreign Correspondent, BBC News", ("Jane Doe",)),
        ("By Jane Doe / The Guardian", ("Jane Doe",)),
        ("By Jane Doe, Senior Reporter, NBC News", ("Jane Doe",)),
        ("By Jane Doe / CNN Business", ("Jane Doe",)),
        ("By Jane Doe, CNN Business", ("Jane Doe",)),
        ("By Jane Doe and John Roe, NBC Sports", ("Jane Doe", "John Roe")),
        ("By Jane Doe, Fox Business Network", ("Jane Doe",)),
        ("By Jane Doe / Sky Sports", ("Jane Doe",)),
        ("By AJ Willingham, CNN", ("AJ Willingham",)),
        ("By Jane Doe / TJ Quinn", ("Jane Doe", "TJ Quinn")),
        ("By Jean DUPONT / Marie MARTIN", ("Jean DUPONT", "Marie MARTIN")),
        # Surname first in capitals (Korean, Chinese, French wire style): writers, not outlets.
        ("By Jane Doe / KIM Tong-hyung", ("Jane Doe", "KIM Tong-hyung")),
        ("By Jane Doe, LEE Min-ji, Reuters", ("Jane Doe", "LEE Min-ji")),
        ("By Jane Doe / DUPONT Jean", ("Jane Doe", "DUPONT Jean")),
        ("BY JANE DOE / JOHN ROE", ("Jane Doe", "John Roe")),
        # An outlet after the last comma is where the writers work: known by name (OUTLETS),
        # by an opening article, or by a word that names an outlet.
        ("By Jane Doe, Al Jazeera", ("Jane Doe",)),
        ("By Jane Doe, Le Monde", ("Jane Doe",)),
        ("By Jane Doe, Daily Mail", ("Jane Doe",)),
        ("By Jane Doe, Deutsche Welle", ("Jane Doe",)),
        ("By Jane Doe, Kyiv Independent", ("Jane Doe",)),
        ("By Jane Doe, Politico Europe", ("Jane Doe",)),
        ("By Jane Doe and John Roe, Der Spiegel", ("Jane Doe", "John Roe")),
        ("By Jane Doe, Reuters TV", ("Jane Doe",)),
        # ... and a name shaped like a writer's is a writer, with or without "and".
        ("By Jane Doe, John Roe", ("Jane Doe", "John Roe")),
        # A known agency glued to the last name (a separator lost) is not part of it.
        ("By Jane Doe Reuters", ("Jane Doe",)),
        ("By Jane Doe Associated Press", ("Jane Doe",)),
        ("By JANE DOE and JOHN ROE Associated Press", ("Jane Doe", "John Roe")),
        ("By Jane Doe and John Roe AFP", ("Jane Doe", "John Roe")),
        # ... unless one word of the name would be left: then it is a surname.
        ("By Jane Doe and John Reuters", ("Jane Doe", "John Reuters")),
        ("By Jane Doe, Mary Bloomberg", ("Jane Doe", "Mary Bloomberg")),
        ("By Jane Doe, The Guardian", ("Jane Doe",)),
        # An outlet after a dash, "for", "Special to" or in brackets; a date after the names.
        ("By Jane Doe - Reuters", ("Jane Doe",)),
        ("By Jane Doe — Associated Press", ("Jane Doe",)),
        ("By Jane Doe – AFP", ("Jane Doe",)),
        ("By Jane Doe for Reuters", ("Jane Doe",)),
        ("By Jane Doe for The Guardian", ("Jane Doe",)),
        ("By Jane Doe, Special to The Globe and Mail", ("Jane Doe",)),
        ("By Jane Doe (Reuters)", ("Jane Doe",)),
        ("By Jane Doe and John Roe (Reuters)", ("Jane Doe", "John Roe")),
        ("By Jane Doe on March 4, 2025", ("Jane Doe",)),
        ("By Jane Doe on Tuesday, March 4, 2025", ("Jane Doe",)),
        ("By Jane Doe — March 4, 2025", ("Jane Doe",)),
        ("By April Smith on March 4, 2025", ("April Smith",)),
        # Joined initials, "with", particles beyond the word limit, "An" in a name.
        ("By J.R. Smith", ("J.R. Smith",)),
        ("BY J.R. SMITH", ("J.R. Smith",)),
        ("By Jane Doe with John Roe", ("Jane Doe", "John Roe")),
        ("By Ana María Pérez de la Cruz", ("Ana María Pérez de la Cruz",)),
        ("By Nguyen Van An", ("Nguyen Van An",)),
        ("By Nguyen Van An and Jane Doe", ("Nguyen Van An", "Jane Doe")),
        ("By To Thi Mai", ("To Thi Mai",)),
        # Five words, none a particle: the longest name read (bylines.MAX_NAME_WORDS).
        ("By Ana Maria Souza Santos Lima", ("Ana Maria Souza Santos Lima",)),
    ],
)
def test_byline_shapes(line: str, names: tuple[str, ...]) -> None:
    assert read_byline(line) == names


@pytest.mark.parametrize(
    "line",
    [
        "By the end of the week, officials said.",
        "By the end of the week, negotiators hope to settle the last open questions.",
        "By Monday, officials had agreed on most of the text.",
        "By Tuesday Evening",
        "By 2030, tariffs on farm goods would fall to zero.",
        "By Order Of The Court",
        "By Reuters Staff",
        "By The Associated Press",
        "By Al Jazeera",
        "By contrast, the city kept its budget.",
        "By 2030 the city will have doubled its bus fleet.",
        "By the end of the week - Reuters",
        "By Tuesday (Reuters)",
        "By March 4, 2025, prices had doubled.",
        "By Jane Doe on Monday",
        "By Jane Doe for the first time",
        "By Jane Doe - who covers energy",
        "By Rail To Paris",
        "By An Hour Or Two",
        "By Ana María Pérez de la Cruz Gómez Ortega Ruiz",
        "BY DEUTSCHE WELLE",
        "By AFP",
        "by jane doe",
        "By Jane Doe. She covers energy.",
        "By Jane Doe, who covers energy for the paper",
        "Byline: Jane Doe",
        "By Jane Doe and the team",
        "By March, prices had doubled.",
        "By: the editors",
        "By Jane Doe, and the team",
        "By Jane Doe/Reuters",
        "By Jane Doe; Photos Ann Poe",
        "By Jane Doe; Additional Reporting",
        "By Ann van",  # a particle ends no name
        "By Ana Maria Souza Santos Lima Costa",  # six words, no particle: a sentence's length
        "By",
        "",
    ],
)
def test_what_is_not_a_byline(line: str) -> None:
    assert read_byline(line) is None


@pytest.mark.parametrize(
    ("paragraph", "writers"),
    [
        ("Reporting by Jane Doe; Editing by John Roe", ("Jane Doe",)),
        ("(Reporting by Jane Doe in Caracas; Editing by John Roe)", ("Jane Doe",)),
        ("[Reporting by Jane Doe; editing by John Roe]", ("Jane Doe",)),
        (
            "(Reporting by Jane Doe and Matt Spetalnick in Washington; Additional reporting by "
            "Ann Poe in New York; Writing by Bob Loe; Editing by Chizu Nomiyama)",
            ("Jane Doe", "Matt Spetalnick", "Ann Poe", "Bob Loe"),
        ),
        ("Reporting by Jane Doe, writing by Bob Loe; editing by John Roe", ("Jane Doe", "Bob Loe")),
        ("Writing by Jane Doe", ("Jane Doe",)),
        ("Reporting by Jane Doe and Jane Doe; Editing by John Roe", ("Jane Doe",)),
        # Where a reporter was: "at", and a region after the place's comma.
        (
            "(Reporting by Michelle Nichols at the United Nations; Editing by Chris Reese)",
            ("Michelle Nichols",),
        ),
        ("(Reporting by Jane Doe in Washington, D.C.; Editing by John Roe)", ("Jane Doe",)),
        ("(Reporting by Jane Doe in Kyiv, Ukraine; Editing by John Roe)", ("Jane Doe",)),
        ("(Reporting by Jane Doe in Seoul, South Korea; Editing by John Roe)", ("Jane Doe",)),
        (
            "Reporting by Jane Doe in Kyiv, Ukraine, and John Roe in Moscow",
            ("Jane Doe", "John Roe"),
        ),
        (
            "Reporting by Jane Doe in Washington, John Roe in London and Ann Poe in Paris",
            ("Jane Doe", "John Roe", "Ann Poe"),
        ),
        # A newsroom or a channel credited beside the reporters voids none of them.
        (
            "Reporting by Vivian Sequera in Caracas and Matt Spetalnick in Washington; Additional"
            " reporting by the Caracas newsroom; Editing by Daniel Wallis",
            ("Vivian Sequera", "Matt Spetalnick"),
        ),
        ("(Reporting by Jane Doe and Reuters TV; Editing by Ann Poe)", ("Jane Doe",)),
        ("(Reporting by Jane Doe and the Bangkok bureau; Editing by Ann Poe)", ("Jane Doe",)),
        ("(Reporting by Jane Doe in New York and Gdansk newsroom)", ("Jane Doe",)),
        # Reuters' footer, scraped into the brackets or after them.
        (
            "(Reporting by Jane Doe; Editing by Ann Poe; Our Standards: The Thomson Reuters Trust"
            " Principles.)",
            ("Jane Doe",),
        ),
        (
            "(Reporting by Jane Doe; Editing by Ann Poe) Our Standards: The Thomson Reuters Trust"
            " Principles.",
            ("Jane Doe",),
        ),
        # USA Today's contributors, their outlet left out.
        ("Contributing: Jane Doe, John Roe", ("Jane Doe", "John Roe")),
        ("Contributing: Jane Doe and John Roe.", ("Jane Doe", "John Roe")),
        ("Contributing: Jane Doe, USA TODAY; The Associated Press", ("Jane Doe",)),
        ("Contributing: Jane Doe, USA TODAY Network; John Roe", ("Jane Doe", "John Roe")),
    ],
)
def test_credit_line_shapes(paragraph: str, writers: tuple[str, ...]) -> None:
    assert read_credits(paragraph) == writers


@pytest.mark.parametrize(
    "paragraph",
    [
        "Reporting by the team in Caracas",
        "Reporting by Reuters TV",
        "Editing by John Roe",  # a credit that names no writer is no credit line for authors
        "Reporting by Jane Doe showed the plan had failed, officials said on Monday.",
        "The reporting by Jane Doe won a prize.",
        "Reporting by Jane Doe and the team showed the plan had failed.",
        "Reporting by the Caracas newsroom; Editing by John Roe",
        "Contributing: higher oil prices and a weak yen.",
        "Contributing factors: the weather and the strike.",
    ],
)
def test_what_names_no_writers(paragraph: str) -> None:
    assert not read_credits(paragraph)


# -- no text crashes the readers; what they return comes from the text -----------------------

# Text made of the pieces bylines and credit lines are made of, so that the readers' every
# branch is reached, and any text at all.
_namey = st.lists(
    st.one_of(
        st.sampled_from(["By ", "BY ", " and ", " AND ", " in ", "Reporting by ", "; Editing by "]),
        st.sampled_from(["Contributing: ", " at ", " with ", " for ", " - ", " on March 4, 2025"]),
        st.sampled_from(["Jane", "Doe", "JOHN", "von", "der", "O'Neill", "Reuters", "the", "J."]),
        st.text(alphabet=string.ascii_letters + " ,.;'’-&()[]", max_size=6),
        st.text(max_size=3),
    ),
    max_size=30,
).map("".join)


def _names_come_from(names: tuple[str, ...], text: str) -> None:
    folded = " ".join(text.split()).lower()
    for name in names:
        assert name and name == " ".join(name.split())
        assert name.lower() in folded, (name, text)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_namey, st.text(max_size=300)))
def test_any_text_is_a_byline_or_not_and_never_crashes(text: str) -> None:
    names = read_byline(text)
    assert names is None or (names and all(isinstance(n, str) for n in names))
    if names:
        _names_come_from(names, text)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_namey, st.text(max_size=300)))
def test_any_text_is_a_credit_line_or_not_and_never_crashes(text: str) -> None:
    writers = read_credits(text)
    if writers:
        _names_come_from(writers, text)
        assert len(set(writers)) == len(writers)
