"""Arguments of the wrong type or range are a SearchError naming the argument, never a TypeError (#16 item 18)."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.errors import PaperatlasError
from paperatlas.search import SearchError, find_similar_papers
from paperatlas.tool import get_paper

BAD = [
    ((5,), {}, "query must be text"),
    ((None,), {}, "query must be text"),
    ((["t-1", 3],), {}, "query must be text"),
    (({"id": "x"},), {}, "query must be text"),
    (("reward",), {"k": None}, "k must be a whole number"),
    (("reward",), {"k": "3"}, "k must be a whole number"),
    (("reward",), {"k": True}, "k must be a whole number"),
    (("reward",), {"k": -2}, "k must be a whole number"),
    (("reward",), {"by": 1}, "by must be one of"),
    (("reward",), {"by": "paper"}, "by must be one of"),
    (("reward",), {"negative": 5}, "negative must be a paper id"),
    (("reward",), {"negative": [None]}, "negative must be a paper id"),
    (("reward",), {"topic": 1.5}, "topic must be a topic id"),
    (("reward",), {"topic": [0]}, "topic must be a topic id"),
    (("reward",), {"topic": True}, "topic must be a topic id"),
    (("reward",), {"layer": -1}, "layer must be a whole number"),
    (("reward",), {"layer": "0"}, "layer must be a whole number"),
    (("reward",), {"layer": None}, "layer must be a whole number"),
    (("reward",), {"date_from": 20250101}, "date_from must be a date"),
    (("reward",), {"date_to": ["2025-01-01"]}, "date_to must be a date"),
    (("reward",), {"exclude_query": "yes"}, "exclude_query must be"),
    (("reward",), {"mode": None}, "mode must be one of"),
    (("reward",), {"mode": ["dense"]}, "mode must be one of"),
    (("reward",), {"min_score": "0.5"}, "min_score must be a number"),
    (("reward",), {"min_score": float("nan")}, "min_score must be a number"),
]


@pytest.mark.parametrize("args,options,message", BAD, ids=[f"{m.split()[0]}-{i}" for i, (_, _, m) in enumerate(BAD)])
def test_a_wrong_argument_is_a_search_error_naming_it(keyword_atlas, args, options, message):
    with pytest.raises(SearchError, match=message):
        find_similar_papers(keyword_atlas, *args, **options)


def test_numpy_integers_and_tuples_of_ids_are_accepted(keyword_atlas):
    first, second = keyword_atlas.corpus.ids[:2]
    hits = find_similar_papers(keyword_atlas, (first, second), np.int64(3), layer=np.int64(0), topic=np.int64(0),
                               negative=(keyword_atlas.corpus.ids[2],))
    assert 0 < len(hits) <= 3 and all(hit["topic_id"] == 0 for hit in hits)


@pytest.mark.parametrize("paper_id", [5, None, ["t-1"], {"id": 1}])
def test_get_paper_with_a_non_string_id_names_the_argument(keyword_atlas, paper_id):
    with pytest.raises(PaperatlasError, match="paper_id must be a string"):
        get_paper(keyword_atlas, paper_id)
