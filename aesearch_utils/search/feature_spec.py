"""The feature-spec mini-language: which features a search pipeline compares, as text.

A spec names one source of features, or several side by side::

    raw                                   the pixels
    pca:32                                PCA with 32 components, fitted on the gallery
    hog                                   histograms of oriented gradients
    colour:8                              the joint RGB histogram, 8 levels per channel
    conv_deep:pool3+flip                  a registered autoencoder read at a layer
                                          (latent, pool1, pool2, ...), mirror-averaged
    conv_deep:pool3+levels+unit           the same layer of each image with its levels
                                          stretched, the features scaled to unit length
    conv_fc_transpose:pool1+root          a layer's features, each replaced by its (signed)
                                          square root
    conv_fc_transpose:pool1@128^0.75 + dense:latent@32^0.5
                                          two sources, each whitened (to 128 dimensions with
                                          power 0.75, to 32 with 0.5), joined

:func:`parse_features` turns the text into typed specs and ``str(spec)``
writes the canonical text back, so notebook 12's results, the registered
recipes and the code all speak of features the same way. Parsing needs no
model: the model name is checked when the encoder is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aesearch_utils.errors import InvalidInputError, UnknownNameError


@dataclass(frozen=True)
class PixelFeatures:
    def __str__(self) -> str:
        return "raw"


@dataclass(frozen=True)
class PCAFeatures:
    components: int

    def __str__(self) -> str:
        return f"pca:{self.components}"


@dataclass(frozen=True)
class HOGFeatures:
    def __str__(self) -> str:
        return "hog"


@dataclass(frozen=True)
class ColourFeatures:
    bins: int

    def __str__(self) -> str:
        return f"colour:{self.bins}"


@dataclass(frozen=True)
class ModelFeatures:
    model_name: str
    layer: str = "latent"
    """``latent`` or ``poolN``."""
    stretch_levels: bool = False
    """``+levels``: each image's levels stretched to the full range before it is encoded."""
    flip_average: bool = False
    """``+flip``: the features of the image and of its mirror image averaged."""
    square_root: bool = False
    """``+root``: each feature replaced by its signed square root, so that a few strong
    responses weigh less against many weaker ones."""
    unit_length: bool = False
    """``+unit``: the features scaled to unit length, before any whitening."""

    def __str__(self) -> str:
        return f"{self.model_name}:{self.layer}" + "".join(
            f"+{name}" for name, on in zip(MODIFIERS, self.modifiers(), strict=True) if on
        )

    def modifiers(self) -> tuple[bool, bool, bool, bool]:
        return self.stretch_levels, self.flip_average, self.square_root, self.unit_length


MODIFIERS = ("levels", "flip", "root", "unit")
"""A model's feature modifiers, in the order they are written (and applied)."""


SingleFeatures = PixelFeatures | PCAFeatures | HOGFeatures | ColourFeatures | ModelFeatures


@dataclass(frozen=True)
class WhitenedPart:
    """One source of a concatenation, whitened to ``dims`` with ``power`` on its own."""

    features: SingleFeatures
    dims: int
    power: float = 0.5

    def __str__(self) -> str:
        return f"{self.features}@{self.dims}^{self.power:g}"


@dataclass(frozen=True)
class ConcatenatedFeatures:
    parts: tuple[WhitenedPart, ...]

    def __str__(self) -> str:
        return " + ".join(str(part) for part in self.parts)


FeatureSpec = SingleFeatures | ConcatenatedFeatures

_SINGLE = re.compile(
    r"(?P<source>[a-z][a-z0-9_]*)(?::(?P<detail>[a-z0-9]+))?(?P<modifiers>(\+[a-z]+)*)"
)
_PART = re.compile(r"(?P<single>[^@]+)@(?P<dims>\d+)(?:\^(?P<power>\d*\.?\d+))?")
_SYNTAX = (
    "write 'raw', 'pca:N', 'hog', 'colour:N', 'MODEL:latent', 'MODEL:poolN', optionally "
    "followed by '+levels', '+flip', '+root', '+unit' (in that order), or several of them as "
    "'SPEC@DIMS^POWER + SPEC@DIMS^POWER'"
)


def parse_features(text: str) -> FeatureSpec:
    """The typed spec of ``text``; a clear error for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"a feature spec is a non-empty string, got {text!r}: {_SYNTAX}")
    pieces = [piece.strip() for piece in text.split(" + ")]
    if len(pieces) == 1:
        return _parse_single(pieces[0], text)
    parts = []
    for piece in pieces:
        match = _PART.fullmatch(piece)
        if match is None:
            raise InvalidInputError(
                f"each part of a concatenation is written 'SPEC@DIMS^POWER', got {piece!r} in "
                f"{text!r}"
            )
        power = float(match["power"]) if match["power"] else 0.5
        if int(match["dims"]) < 1 or not 0 <= power <= 1:
            raise InvalidInputError(
                f"in {piece!r}: DIMS must be at least 1 and POWER between 0 and 1"
            )
        parts.append(WhitenedPart(_parse_single(match["single"], text), int(match["dims"]), power))
    return ConcatenatedFeatures(tuple(parts))


def _parse_single(piece: str, text: str) -> SingleFeatures:
    match = _SINGLE.fullmatch(piece)
    if match is None:
        raise InvalidInputError(f"cannot read the feature spec {piece!r} in {text!r}: {_SYNTAX}")
    source, detail = match["source"], match["detail"]
    modifiers = match["modifiers"].split("+")[1:]
    modified = bool(modifiers)  # only a model's features take modifiers
    if source == "raw":
        if detail or modified:
            raise InvalidInputError(f"'raw' takes no options, got {piece!r}")
        return PixelFeatures()
    if source == "pca":
        if not detail or not detail.isdigit() or int(detail) < 1 or modified:
            raise InvalidInputError(f"a PCA spec is written 'pca:N' with N >= 1, got {piece!r}")
        return PCAFeatures(int(detail))
    if source == "hog":
        if detail or modified:
            raise InvalidInputError(f"'hog' takes no options, got {piece!r}")
        return HOGFeatures()
    if source == "colour":
        if not detail or not detail.isdigit() or modified:
            raise InvalidInputError(
                f"a colour histogram is written 'colour:N' (N levels per channel), got {piece!r}"
            )
        return ColourFeatures(int(detail))
    layer = detail or "latent"
    if layer != "latent" and not re.fullmatch(r"pool[1-9]\d*", layer):
        raise InvalidInputError(
            f"a model is read at 'latent' or 'poolN' (N = 1, 2, ...), got {layer!r} in {piece!r}"
        )
    unknown = [name for name in modifiers if name not in MODIFIERS]
    if unknown:
        raise UnknownNameError("feature modifier", unknown[0], MODIFIERS)
    if modifiers != [name for name in MODIFIERS if name in modifiers]:
        raise InvalidInputError(
            f"write a model's modifiers once each, in the order {', '.join(MODIFIERS)}, "
            f"got {piece!r}"
        )
    levels, flip, root, unit = (name in modifiers for name in MODIFIERS)
    return ModelFeatures(
        source, layer, stretch_levels=levels, flip_average=flip, square_root=root, unit_length=unit
    )


def is_baseline(spec: FeatureSpec | str) -> bool:
    """Whether a spec needs no autoencoder: pixels, PCA, the classic descriptors, or a
    concatenation of them."""
    return not model_names_in(parse_features(spec) if isinstance(spec, str) else spec)


def model_names_in(spec: FeatureSpec) -> tuple[str, ...]:
    """The autoencoders a spec needs, in order of appearance."""
    singles = (
        [part.features for part in spec.parts] if isinstance(spec, ConcatenatedFeatures) else [spec]
    )
    return tuple(single.model_name for single in singles if isinstance(single, ModelFeatures))
