from collections import Counter

import pytest
import yaml

from complaints.config import CONFIG_DIR
from complaints.taxonomy import Taxonomy, TaxonomyError


@pytest.fixture(scope="module")
def taxonomy():
    return Taxonomy.load(CONFIG_DIR / "taxonomy.yaml")


@pytest.mark.parametrize("rows", ["cfpb_rows", "recent_rows"])
def test_every_label_of_every_era_in_the_real_data_resolves(taxonomy, rows, request):
    rows = request.getfixturevalue(rows)
    assert taxonomy.unknown_labels(rows) == {"Product": Counter(), "Issue": Counter()}
    for row in rows:
        assert taxonomy.team(row["Product"], row["Sub-product"]) in taxonomy.teams
        assert taxonomy.issue(row["Issue"], row["Sub-issue"]) in taxonomy.canonical_issues


def test_renamed_products_and_issues_map_to_the_current_names(taxonomy):
    current = "Credit reporting or other personal consumer reports"
    assert taxonomy.team("Credit reporting") == current
    assert taxonomy.team("Credit reporting, credit repair services, or other personal consumer reports") == current
    assert taxonomy.issue("Cont'd attempts collect debt not owed") == "Attempts to collect debt not owed"
    assert taxonomy.team("Credit card or prepaid card", "General-purpose prepaid card") == "Prepaid card"
    assert taxonomy.team("Credit card or prepaid card", "General-purpose credit card or charge card") == "Credit card"


def test_distinct_current_issues_stay_distinct(taxonomy):
    # Fixed points of the mapping are the canonical issues; none maps onto another.
    for issue in taxonomy.canonical_issues:
        assert taxonomy.issue(issue) == issue
    assert len(taxonomy.canonical_issues) > 60


def test_unknown_labels_are_reported_with_counts_not_guessed(taxonomy):
    rows = [{"Product": "Crypto lending", "Issue": "Moon"}, {"Product": "Crypto lending", "Issue": "Fees or interest"}]
    unknown = taxonomy.unknown_labels(rows)
    assert unknown["Product"] == Counter({"Crypto lending": 2})
    assert unknown["Issue"] == Counter({"Moon": 1})
    assert taxonomy.team("Crypto lending") is None


def test_an_inconsistent_taxonomy_is_refused(tmp_path):
    doc = yaml.safe_load((CONFIG_DIR / "taxonomy.yaml").read_text())
    doc["products"]["Mortgage"]["team"] = "Home loans"
    doc["issues"]["Fees or interest"]["canonical"] = "Not an issue"
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(TaxonomyError, match="Home loans") as error:
        Taxonomy.load(path)
    assert "Not an issue" in str(error.value)


def test_vulnerable_tags(taxonomy):
    assert taxonomy.is_vulnerable("Older American, Servicemember")
    assert not taxonomy.is_vulnerable("")
    assert taxonomy.unknown_tags("Older American, Student") == ["Student"]
