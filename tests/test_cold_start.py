"""Issue 17's cold-start measurement (bench/cold_start.py) on the tiny data: what the benchmark reports is real."""
import math
from dataclasses import replace

import pytest

from bench.cold_start import (COLD, METRIC, NEW_USERS, RANDOM, TEXT_ONLY, format_result, measure, parse_variant,
                              split_config)
from recsys_core.evaluation import MODEL_NAME
from recsys_core.pipeline import FitOptions
from recsys_core.training import TrainConfig


@pytest.fixture(scope="module")
def measured(tiny_dataset, embedding_cache):
    options = FitOptions(split=split_config(seed=0), train=TrainConfig(epochs=1), cache_dir=embedding_cache)
    variants = dict([parse_variant("gated:evidence_gate=true,text_loss=0.5", options)])
    return measure(tiny_dataset, options, warm_run=True, id_dropout=0.25, variants=variants, warm_variants=True)


def test_every_slice_has_model_text_only_and_random_with_intervals(measured):
    slices = {s.name: s for s in measured.report.slices}
    assert {"test", COLD, NEW_USERS} <= set(slices)
    for s in slices.values():
        assert s.n_cases > 1
        for name in (MODEL_NAME, TEXT_ONLY, RANDOM):
            assert math.isfinite(s.metrics[name][METRIC]), (s.name, name)
            assert math.isfinite(s.ci95[name][METRIC]), (s.name, name)


def test_the_text_only_reference_uses_no_item_ids_and_the_product_does(measured):
    assert measured.models[TEXT_ONLY].model.config.use_item_ids is False
    assert measured.models[MODEL_NAME].model.config.use_item_ids is True
    assert measured.models[TEXT_ONLY].training.options["ablate"] == ("use_item_ids",)


def test_the_id_dropout_variant_changes_that_setting_only_and_for_that_fit_only(measured):
    variant = measured.models[f"{MODEL_NAME} id_dropout=0.25"].model.config
    product = measured.models[MODEL_NAME].model.config
    assert variant.id_dropout == 0.25 and product.id_dropout == 0.5
    assert replace(variant, id_dropout=product.id_dropout) == product


def test_paired_comparisons_are_the_reports_own_numbers(measured):
    slices = {s.name: s for s in measured.report.slices}
    cold = measured.cold_vs_text
    assert cold.a == pytest.approx(slices[COLD].metrics[MODEL_NAME][METRIC])
    assert cold.b == pytest.approx(slices[COLD].metrics[TEXT_ONLY][METRIC])
    new = measured.new_vs_warm
    assert new.a == pytest.approx(slices[NEW_USERS].metrics[MODEL_NAME][METRIC])
    assert new.n_cases == slices[NEW_USERS].n_cases
    assert math.isfinite(new.b) and math.isfinite(new.diff_ci95)


def test_the_warm_run_holds_out_no_user_and_the_same_cold_items(measured):
    warm = measured.models["warm run"].training.options["split"]
    assert warm["holdout_users"] == 0.0
    assert warm["cold_items"] == split_config(seed=0).cold_items and warm["seed"] == 0


def test_the_printed_result_names_every_ratio(measured):
    text = format_result("tiny", measured)
    assert "product / text-only" in text and "product / Random" in text and "warm run" in text


def test_a_variant_changes_only_its_settings_on_the_same_split_and_gets_its_own_warm_run(measured):
    gated = measured.models["gated"]
    assert gated.model.config.evidence_gate is True and measured.models[MODEL_NAME].model.config.evidence_gate is False
    assert gated.training.options["train"]["text_loss"] == 0.5
    assert gated.training.options["split"] == measured.models[MODEL_NAME].training.options["split"]
    assert measured.models["warm run of gated"].training.options["split"]["holdout_users"] == 0.0
    labels = [label for label, _ in measured.more]
    assert "cold items, gated / text-only" in labels and "new users, gated / its warm run" in labels
    slices = {s.name: s for s in measured.report.slices}
    pair = dict(measured.more)["cold items, gated / text-only"]
    assert pair.a == pytest.approx(slices[COLD].metrics["gated"][METRIC])


def test_a_bad_variant_is_one_clear_error():
    options = FitOptions()
    for spec, message in (("nosettings", "NAME:KEY=VALUE"), ("x:colour=red", "not a number or switch"),
                          ("x:evidence_gate=yes", "true or false")):
        with pytest.raises(ValueError, match=message):
            parse_variant(spec, options)
