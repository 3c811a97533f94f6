import pytest

from aesearch_utils.course.ablation import CANDIDATES
from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.search.feature_spec import (
    ConcatenatedFeatures,
    ModelFeatures,
    PCAFeatures,
    PixelFeatures,
    WhitenedPart,
    model_names_in,
    parse_features,
)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("raw", PixelFeatures()),
        ("pca:32", PCAFeatures(32)),
        ("dense:latent", ModelFeatures("dense")),
        ("conv_deep:pool3+flip", ModelFeatures("conv_deep", "pool3", flip_average=True)),
        (
            "dense:latent+levels+unit",
            ModelFeatures("dense", stretch_levels=True, unit_length=True),
        ),
        (
            "conv_deep:pool2+levels+flip+root+unit",
            ModelFeatures("conv_deep", "pool2", True, True, square_root=True, unit_length=True),
        ),
        (
            "conv_fc_transpose:pool1@128^0.75 + dense:latent@32^0.5",
            ConcatenatedFeatures(
                (
                    WhitenedPart(ModelFeatures("conv_fc_transpose", "pool1"), 128, 0.75),
                    WhitenedPart(ModelFeatures("dense"), 32, 0.5),
                )
            ),
        ),
    ],
)
def test_specs_parse_to_typed_values_and_print_back(text, spec):
    assert parse_features(text) == spec
    assert str(spec) == text


def test_shorthands_print_in_canonical_form():
    assert str(parse_features("dense")) == "dense:latent"
    assert str(parse_features("raw@8 + pca:5@4^1")) == "raw@8^0.5 + pca:5@4^1"


def test_every_candidate_of_notebook_12_round_trips():
    for specs in CANDIDATES.values():
        for text in specs:
            assert str(parse_features(text)) == text


def test_the_models_a_spec_needs():
    spec = parse_features("conv_fc_transpose:pool1@128^0.75 + dense:latent@32^0.5")
    assert model_names_in(spec) == ("conv_fc_transpose", "dense")
    assert model_names_in(parse_features("pca:3")) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "non-empty string"),
        ("pca:many", "'pca:N'"),
        ("pca:0", "'pca:N'"),
        ("raw+flip", "'raw' takes no options"),
        ("hog+levels", "'hog' takes no options"),
        ("dense:latent+unit+levels", "in the order levels, flip, root, unit"),
        ("dense:latent+flip+flip", "once each"),
        ("dense:conv7", "'latent' or 'poolN'"),
        ("Dense!", "cannot read the feature spec"),
        ("raw + pca:5", "SPEC@DIMS"),
        ("raw@0 + pca:5@4", "DIMS must be at least 1"),
        ("raw@4^2 + pca:5@4", "POWER between 0 and 1"),
    ],
)
def test_bad_specs_say_what_is_wrong(text, message):
    with pytest.raises(InvalidInputError, match=message):
        parse_features(text)


def test_an_unknown_modifier_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="levels, flip, root, unit"):
        parse_features("dense:latent+sharpen")
