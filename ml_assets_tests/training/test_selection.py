import pytest

from ml_assets.training.selection import ModelScore, select_candidate

pytestmark = pytest.mark.unit

RF = ModelScore("random_forest", "1", True, 0.70)
XGB = ModelScore("xgboost", "2", True, 0.72)
MLP = ModelScore("neural_network", "3", False, 0.90, ("performance",))


def test_best_passing_model_wins_even_if_a_failed_one_scores_higher() -> None:
    selection = select_candidate([RF, XGB, MLP], "average_precision", champion_score=None, margin=0.01)
    assert selection.candidate == XGB
    assert "no champion yet" in selection.reason


def test_no_passing_model_names_every_failure() -> None:
    failed = [ModelScore("random_forest", "1", False, 0.5, ("stability",)), MLP]
    selection = select_candidate(failed, "average_precision", champion_score=None, margin=0.01)
    assert not selection.accepted
    assert (
        "random_forest v1 failed stability" in selection.reason
        and "neural_network v3 failed performance" in selection.reason
    )


def test_non_inferiority_against_the_champion() -> None:
    assert (
        select_candidate([RF, XGB], "average_precision", champion_score=0.725, margin=0.01).candidate == XGB
    )  # within the margin
    rejected = select_candidate([RF, XGB], "average_precision", champion_score=0.80, margin=0.01)
    assert not rejected.accepted
    assert "worse than the champion's 0.8000 by more than the margin 0.01" in rejected.reason


def test_card_precision_needs_the_entity_and_the_day(fraud_config, breast_cancer_config) -> None:
    """Training and monitoring both score card precision@k from each record's card and day."""
    import pandas as pd

    from ml_assets.training.dataset import entity_and_day

    frame = pd.DataFrame(
        {"TX_DATETIME": pd.to_datetime(["2026-11-01 23:59", "2026-11-02 00:01"]), "CUSTOMER_ID": [7, 8]}
    )
    entity, day = entity_and_day(frame, fraud_config)
    assert list(entity) == [7, 8] and [str(d)[:10] for d in day] == ["2026-11-01", "2026-11-02"]
    assert entity_and_day(frame, breast_cancer_config) == (None, None)
