"""A rebuild that follows a change lists exactly what the whole inventory would have changed.

inventory.follow names the part of the site a change can touch; inventory.followed lists that
part before and after. Applied to the whole inventory before the change (its URLs gone removed,
its targets set), the result must equal the whole inventory after the change: every URL and
every input, whatever the change. Random changes to a small folder check it step after step.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc import inventory
from feedsvc.inventory import Snapshot, Target

from .conftest import hex_id, indexed_app, write_document

# Few articles per page, so that a small folder has archive months, crowded days split into
# parts, paged listings and related-story groups that shift.
FEED_SIZE = "3"
CITIES = ["GENEVA", "OSLO", "LIMA", "ACCRA", "HANOI"]
AGENCIES = ["Reuters", "AFP", "AP", "dpa", "REUTERS"]  # "REUTERS": another spelling, one channel
STEPS = 40


def _date(rng: random.Random, now: datetime) -> str:
    """Mostly a few crowded days, some spread over months, some inside the news window."""
    pick = rng.random()
    if pick < 0.5:
        day = datetime(
            2024, 3, rng.choice([4, 5]), rng.randrange(24), rng.randrange(60), tzinfo=UTC
        )
    elif pick < 0.8:
        day = datetime(2023, rng.randrange(1, 13), rng.randrange(1, 28), 12, tzinfo=UTC)
    else:
        day = now - timedelta(hours=rng.randrange(1, 40), minutes=rng.randrange(60))
    return day.strftime("%d %b %Y %H:%M UTC")


class Folder:
    """A seeds folder changed at random, with what each of its documents says."""

    def __init__(self, seeds: Path, rng: random.Random, now: datetime):
        self.seeds, self.rng, self.now = seeds, rng, now
        self.docs: dict[int, dict[str, str]] = {}
        self.held: set[int] = set()  # dated in the future: an embargo
        self.next = 1

    def write(self, number: int) -> None:
        doc = self.docs[number]
        dateline = f"{doc['city']} ({doc['agency']}) -"
        for old in self.seeds.glob(f"*_{hex_id(number)}.txt"):
            old.unlink()
        write_document(self.seeds, number, hex_id(number), headline=doc["headline"],
                       date=doc["date"], dateline=dateline)  # fmt: skip

    def add(self) -> str:
        number, self.next = self.next, self.next + 1
        rng = self.rng
        self.docs[number] = {
            "headline": f"Story {number} {rng.choice(['rises', 'falls', 'holds'])}",
            "date": _date(rng, self.now),
            "city": rng.choice(CITIES),
            "agency": rng.choice(AGENCIES),
        }
        self.write(number)
        return f"add {number}"

    def embargo(self) -> str:
        said = self.add()
        number = self.next - 1
        self.docs[number]["date"] = (self.now + timedelta(days=30)).strftime("%d %b %Y %H:%M UTC")
        self.held.add(number)
        self.write(number)
        return said + " (embargoed)"

    def release(self) -> str:
        if not self.held:
            return self.add()
        number = self.rng.choice(sorted(self.held))
        self.held.discard(number)
        self.docs[number]["date"] = _date(self.rng, self.now)
        self.write(number)
        return f"release {number}"

    def edit(self, field: str) -> str:
        shown = sorted(set(self.docs) - self.held)
        if not shown:
            return self.add()
        number = self.rng.choice(shown)
        doc, rng = self.docs[number], self.rng
        if field == "headline":
            doc["headline"] += " again"
        elif field == "date":
            doc["date"] = _date(rng, self.now)
        elif field == "spelling":  # the channel keeps its members; its name may change
            doc["agency"] = {"Reuters": "REUTERS", "REUTERS": "Reuters"}.get(
                doc["agency"], "REUTERS"
            )
        else:
            doc[field] = rng.choice(CITIES if field == "city" else AGENCIES)
        self.write(number)
        return f"edit {number} {field}"

    def delete(self) -> str:
        if not self.docs:
            return self.add()
        number = self.rng.choice(sorted(self.docs))
        del self.docs[number]
        self.held.discard(number)
        next(self.seeds.glob(f"*_{hex_id(number)}.txt")).unlink()
        return f"delete {number}"

    def change(self) -> str:
        rng = self.rng
        edits = [
            lambda f=f: self.edit(f) for f in ("headline", "date", "city", "agency", "spelling")
        ]
        kinds = [self.add, self.delete, self.embargo, self.release, *edits]
        return ", ".join(rng.choice(kinds)() for _ in range(rng.choice([0, 1, 1, 1, 2, 4])))


def as_map(targets: list[Target]) -> dict[str, tuple[str, int]]:
    found = {t.url: (t.inputs, t.status) for t in targets}
    assert len(found) == len(targets), "a URL listed twice"
    return found


def check_followed(
    app, before: Snapshot, whole_before: dict, now: datetime, said: str
) -> tuple[Snapshot, dict, list[Target]]:
    """Follow the index's change since ``before``; assert the whole inventory before with the
    followed part applied is the whole inventory now. Returns the snapshot after (made from
    ``before`` and the changes since, as a builder makes it), its whole inventory and the
    followed targets."""
    svc = app.extensions["feedsvc"]
    read = Snapshot(svc, now)  # every version read again
    after = Snapshot(svc, now, previous=before)
    assert after.derived, said  # this process indexed the change: the store tells what changed
    assert_same_snapshot(after, read, said)
    whole_after = as_map(inventory.targets(app, read))
    scope = inventory.follow(before, after)
    assert scope is not None, said
    listed, gone = inventory.followed(app, before, after, scope)
    removed = set(gone)
    result = {url: found for url, found in whole_before.items() if url not in removed}
    result.update(as_map(listed))
    assert result == whole_after, said
    return after, whole_after, listed


def assert_same_snapshot(made: Snapshot, read: Snapshot, said: str) -> None:
    """What every enumerator reads is the same in both snapshots."""
    assert made.versions == read.versions, said
    assert made.keys == read.keys, said
    assert made.facets == read.facets and made.content_time == read.content_time, said
    assert made.channels() == read.channels(), said
    for channel in read.channels():
        assert list(made.positions(channel)) == list(read.positions(channel)), (said, channel)
        assert made.plan(channel) == read.plan(channel), (said, channel)
    for version in read.versions:
        assert made.position(version.id) == read.position(version.id), said


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_following_a_change_gives_the_whole_inventory(tmp_path: Path, seed: int) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    now = datetime.now(UTC).replace(microsecond=0)
    folder = Folder(seeds, random.Random(seed), now)
    for _ in range(30):
        folder.add()
    app = indexed_app(tmp_path, seeds, FEED_SIZE=FEED_SIZE)
    svc = app.extensions["feedsvc"]
    # One moment for every snapshot: what the clock alone changes is not followed (the
    # builder lists everything then), so it must not differ between them here.
    before = Snapshot(svc, now)
    whole_before = as_map(inventory.targets(app, before))
    followed_pages = whole_pages = 0
    for step in range(STEPS):
        said = folder.change()
        svc.store.refresh()
        after, whole_after, listed = check_followed(
            app, before, whole_before, now, f"{step}: {said}"
        )
        # Article pages: the largest part of a big site's inventory (inventory.follow).
        followed_pages += sum(t.url.startswith("/articles/") for t in listed)
        whole_pages += sum(url.startswith("/articles/") for url in whole_after)
        before, whole_before = after, whole_after
    # Not every article page again: even here, where a change moves a good part of a site of 30
    # to 60 articles (3 a page, 5 agencies, 5 cities), the changes list a fraction of them.
    assert followed_pages < whole_pages / 3, (followed_pages, whole_pages)


def test_too_many_changes_are_not_followed(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    folder = Folder(seeds, random.Random(4), datetime.now(UTC))
    app = indexed_app(tmp_path, seeds, FEED_SIZE=FEED_SIZE)
    svc = app.extensions["feedsvc"]
    before = Snapshot(svc, datetime.now(UTC))
    for _ in range(inventory.FOLLOW_MAX_ARTICLES + 1):
        folder.add()
    svc.store.refresh()
    assert inventory.follow(before, Snapshot(svc, datetime.now(UTC))) is None


def test_a_respelling_that_renames_a_channel_is_followed_on_all_its_pages(tmp_path: Path) -> None:
    # An edit that keeps a channel's members but changes its most common spelling renames it on
    # every page of its listing and archive, not only on the edited article's page.
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for number in range(1, 8):
        agency = "Reuters" if number <= 4 else "REUTERS"
        write_document(seeds, number, hex_id(number), headline=f"Story {number}",
                       date=f"{number} Mar 2023", dateline=f"OSLO ({agency}) -")  # fmt: skip
    app = indexed_app(tmp_path, seeds, FEED_SIZE=FEED_SIZE)
    svc = app.extensions["feedsvc"]
    now = datetime.now(UTC)
    before = Snapshot(svc, now)
    whole_before = as_map(inventory.targets(app, before))
    assert [f.name for f in svc.store.agencies()] == ["Reuters"]
    write_document(seeds, 1, hex_id(1), headline="Story 1", date="1 Mar 2023",
                   dateline="OSLO (REUTERS) -")  # fmt: skip
    svc.store.refresh()
    assert [f.name for f in svc.store.agencies()] == ["REUTERS"]
    _, _, listed = check_followed(app, before, whole_before, now, "Reuters -> REUTERS")
    assert {"/sources/reuters?page=1", "/sources/reuters?page=3"} <= {t.url for t in listed}


def test_a_snapshot_reads_every_version_when_another_process_changed_the_index(
    tmp_path: Path,
) -> None:
    # Only the changes this process committed are known to it: after another writer's, a
    # snapshot made from the last one would miss that writer's articles.
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    folder = Folder(seeds, random.Random(5), datetime.now(UTC))
    for _ in range(6):
        folder.add()
    app = indexed_app(tmp_path, seeds, FEED_SIZE=FEED_SIZE)
    svc = app.extensions["feedsvc"]
    now = datetime.now(UTC)
    before = Snapshot(svc, now)
    folder.add()
    other = indexed_app(tmp_path, seeds, FEED_SIZE=FEED_SIZE)  # refreshes the same index
    other.extensions["feedsvc"].store.close()
    time.sleep(0.01)  # a new modification time for the edited file
    folder.edit("headline")
    svc.store.refresh()  # this process's own change comes after the other writer's
    after = Snapshot(svc, now, previous=before)
    assert not after.derived
    assert len(after.versions) == 7
    assert_same_snapshot(after, Snapshot(svc, now), "another writer, then this process")
    # Then this process indexes a change of its own, and follows it again.
    time.sleep(0.01)
    folder.edit("headline")
    svc.store.refresh()
    again = Snapshot(svc, now, previous=after)
    assert again.derived
    assert_same_snapshot(again, Snapshot(svc, now), "an edit after another writer's")


def test_a_snapshot_reads_every_version_once_the_clock_released_an_article(
    tmp_path: Path,
) -> None:
    # An embargo lifting changes what is shown with no commit at all: nothing in the store's
    # log says so, and a snapshot made from the last one would leave the article out.
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_document(seeds, 1, hex_id(1), headline="Shown", date="1 Mar 2023")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    held = soon.strftime("%d %b %Y %H:%M:%S UTC")
    write_document(seeds, 2, hex_id(2), headline="Held", date=held)
    app = indexed_app(tmp_path, seeds, FEED_SIZE=FEED_SIZE)
    svc = app.extensions["feedsvc"]
    before = Snapshot(svc, datetime.now(UTC))
    assert [v.headline for v in before.versions] == ["Shown"]
    while datetime.now(UTC) <= soon:
        time.sleep(0.1)
    after = Snapshot(svc, datetime.now(UTC), previous=before)
    assert not after.derived
    assert [v.headline for v in after.versions] == ["Held", "Shown"]


def test_moved_positions_are_where_the_articles_stand_after_the_change() -> None:
    # A snapshot made from the last one moves each channel's member positions by slices
    # (inventory._Moves); random removals and insertions check it against a list edited by hand.
    for trial in range(3000):
        rng = random.Random(trial)
        size = rng.randrange(0, 30)
        removed = sorted(rng.sample(range(size), rng.randrange(0, min(size, 4) + 1)))
        after: list[tuple[str, int]] = [("stays", p) for p in range(size) if p not in removed]
        for number in range(rng.randrange(0, 4)):
            after.insert(rng.randrange(0, len(after) + 1), ("new", number))
        added = [place for place, (kind, _) in enumerate(after) if kind == "new"]
        where = {old: place for place, (kind, old) in enumerate(after) if kind == "stays"}
        members = sorted(rng.sample(range(size), rng.randrange(0, size + 1)))
        joined = sorted(rng.sample(added, rng.randrange(0, len(added) + 1)))
        expected = sorted([where[p] for p in members if p in where] + joined)
        assert inventory._Moves(removed, added).apply(members, joined) == expected, trial
