"""The trained text model: built with scikit-learn, stored as plain arrays, applied with numpy.

Training is scikit-learn's TF-IDF (sublinear term frequency, features seen in at least two
messages) and a class-balanced linear support vector machine — the baseline that beat the
hand-written rules by about twelve points on writers nobody tuned to (docs: classification).

The file is a NumPy ``.npz`` read with ``allow_pickle=False``: vocabulary, idf weights and the
linear model's coefficients as arrays, nothing executable. A model file from elsewhere can be
wrong but cannot run code. Applying the model needs only numpy: one dictionary look-up per
feature and a small matrix product, so classification keeps its speed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import zipfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mailbot.domain.classifier import Prediction
from mailbot.domain.model import Category
from mailbot.domain.model_text import TOKEN, FeatureExtractor, char_grams

FORMAT = "mailbot-text-model/1"
#: Turns the SVM's margins into a probability-like share per class (softmax of ``margin × scale``).
MARGIN_SCALE = 4.0
#: Strength of the SVM's regularisation, chosen by leave-one-writer-set-out cross-validation.
SVM_C = 0.5
#: Words and character n-grams are normalised as two blocks (so thousands of n-grams do not drown a
#: few telling words), the word block weighing this much more: +1.2 points in cross-validation.
WORD_WEIGHT = 1.5
_GRAM_CACHE_LIMIT = 200_000


class ModelFileError(Exception):
    """A model file that is missing, damaged or of another format (message is one line)."""


@dataclass(frozen=True)
class Example:
    """One labelled message as the model reads it."""

    text: str
    category: Category


@dataclass
class TextModel:
    """A trained model: feature → column, idf per column, and one weight row per column."""

    classes: tuple[Category, ...]
    vocabulary: dict[str, int]
    idf: np.ndarray  # (features,) float32
    weights: np.ndarray  # (features, classes) float32: the SVM's coefficients, transposed
    intercept: np.ndarray  # (classes,) float32
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        self._names: list[str] | None = None
        self._is_word = _word_columns(self.vocabulary)
        self._grams: dict[str, tuple[int, ...]] = {}  # word → columns of its character n-grams

    def columns(self, text: str) -> Counter[int]:
        """Column → count: what :class:`FeatureExtractor` yields, looked up in the vocabulary."""
        idx, counts = self._column_counts(text)
        return Counter(dict(zip(idx.tolist(), counts.tolist(), strict=True)))

    def _column_counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Present columns (sorted) and their counts.

        Features the model does not know are dropped as they are made; a word pair is looked up
        only when both its words are known (with ``min_df`` a known pair implies known words); each
        word's n-gram columns are cached, and the counting is one ``np.unique``, so a message costs
        a few dictionary look-ups per word.
        """
        vocab = self.vocabulary
        cols: list[int] = []
        known: list[str | None] = []
        for w in TOKEN.findall(text):
            i = vocab.get("w:" + w)
            if i is None:
                known.append(None)
            else:
                cols.append(i)
                known.append(w)
        for a, b in itertools.pairwise(known):
            if a is not None and b is not None and (i := vocab.get(f"w:{a} {b}")) is not None:
                cols.append(i)
        cache = self._grams
        for word in text.split():
            grams = cache.get(word)
            if grams is None:
                grams = tuple(i for g in char_grams(word) if (i := vocab.get(g)) is not None)
                if len(cache) >= _GRAM_CACHE_LIMIT:
                    cache.clear()
                cache[word] = grams
            cols.extend(grams)
        if not cols:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        return np.unique(np.array(cols, dtype=np.int64), return_counts=True)

    def predict(self, text: str) -> Prediction:
        """Share per category, and the words that pushed the two strongest categories up."""
        idx, counts = self._column_counts(text)
        if not len(idx):
            margins = self.intercept.astype(np.float64)
            return Prediction(self._shares(margins), {})
        tf = 1.0 + np.log(counts.astype(np.float64))
        values = _normalise_blocks(tf * self.idf[idx], self._is_word[idx])
        contributions = self.weights[idx] * values[:, None]  # (present features, classes)
        margins = contributions.sum(axis=0) + self.intercept
        shares = self._shares(margins)
        top = tuple(sorted(shares, key=lambda c: -shares[c])[:2])
        return Prediction(shares, _Reasons(self, idx, contributions, top))

    def _shares(self, margins: np.ndarray) -> dict[Category, float]:
        scaled = margins * float(self.meta.get("margin_scale", MARGIN_SCALE))
        scaled -= scaled.max()
        exp = np.exp(scaled)
        exp /= exp.sum()
        return {c: float(p) for c, p in zip(self.classes, exp, strict=True)}

    def _reasons(self, idx: np.ndarray, contribution: np.ndarray, limit: int = 5) -> tuple[str, ...]:
        """The words (not character pieces, which mean nothing to a reader) that counted most."""
        if self._names is None:
            self._names = [""] * len(self.vocabulary)
            for name, i in self.vocabulary.items():
                self._names[i] = name
        names = self._names
        useful = np.flatnonzero(self._is_word[idx] & (contribution > 0))
        if len(useful) > limit:
            useful = useful[np.argpartition(-contribution[useful], limit - 1)[:limit]]
        best = useful[np.argsort(-contribution[useful], kind="stable")]
        return tuple(names[int(idx[j])][2:] for j in best)


class _Reasons(Mapping[Category, tuple[str, ...]]):
    """The words behind the two strongest categories, worked out only when asked for: most
    decisions show the reasons of one category at most, and sorting contributions for every
    prediction was a seventh of the model's cost."""

    def __init__(
        self, model: TextModel, idx: np.ndarray, contributions: np.ndarray, top: tuple[Category, ...]
    ):
        self._model, self._idx, self._contributions, self._top = model, idx, contributions, top
        self._done: dict[Category, tuple[str, ...]] = {}

    def __getitem__(self, category: Category) -> tuple[str, ...]:
        if category not in self._top:
            raise KeyError(category)
        if category not in self._done:
            column = self._contributions[:, self._model.classes.index(category)]
            self._done[category] = self._model._reasons(self._idx, column)
        return self._done[category]

    def __iter__(self) -> Iterator[Category]:
        return iter(self._top)

    def __len__(self) -> int:
        return len(self._top)


def train(examples: Sequence[Example], *, c: float = SVM_C) -> TextModel:
    """Fit the model; the same examples in the same order give the same model, byte for byte."""
    extract = FeatureExtractor()
    return fit([extract(e.text) for e in examples], [e.category for e in examples], c=c)


def fit(features: Sequence[list[str]], categories: Sequence[Category], *, c: float = SVM_C) -> TextModel:
    """Fit on features already extracted (cross-validation extracts each message once)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    if len(set(categories)) < 2:
        raise ValueError("training needs examples of at least two categories")
    vectorizer = TfidfVectorizer(analyzer=_as_is, sublinear_tf=True, min_df=2, norm=None, dtype=np.float32)
    counts = vectorizer.fit_transform(features)
    vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
    matrix = _normalise_rows(counts.tocsr(), _word_columns(vocabulary))
    svm = LinearSVC(C=c, class_weight="balanced", random_state=0, max_iter=5000)
    svm.fit(matrix, [cat.value for cat in categories])
    classes = tuple(Category(v) for v in svm.classes_)
    coef = np.asarray(svm.coef_, dtype=np.float32)
    intercept = np.asarray(svm.intercept_, dtype=np.float32)
    if len(classes) == 2:  # scikit-learn keeps one row for two classes: margin of the second
        coef = np.vstack([-coef[0], coef[0]])
        intercept = np.array([-intercept[0], intercept[0]], dtype=np.float32)
    digest = hashlib.sha256()
    for feats, cat in zip(features, categories, strict=True):
        digest.update(cat.value.encode() + b"\0" + "\t".join(feats).encode() + b"\0")
    meta = {
        "format": FORMAT,
        "examples": len(categories),
        "per_category": dict(sorted(Counter(cat.value for cat in categories).items())),
        "data_sha256": digest.hexdigest(),
        "c": c,
        "margin_scale": MARGIN_SCALE,
    }
    return TextModel(
        classes,
        vocabulary,
        np.asarray(vectorizer.idf_, dtype=np.float32),
        np.ascontiguousarray(coef.T),
        intercept,
        meta,
    )


def _as_is(features: list[str]) -> list[str]:
    return features


def _word_columns(vocabulary: dict[str, int]) -> np.ndarray:
    mask = np.zeros(len(vocabulary), dtype=bool)
    for name, i in vocabulary.items():
        mask[i] = name.startswith("w:")
    return mask


def _normalise_blocks(values: np.ndarray, is_word: np.ndarray) -> np.ndarray:
    """One message's tf-idf values: each block to unit length, the word block to WORD_WEIGHT."""
    out = values.astype(np.float64)
    for mask, weight in ((is_word, WORD_WEIGHT), (~is_word, 1.0)):
        norm = float(np.sqrt(out[mask] @ out[mask]))
        if norm > 0:
            out[mask] *= weight / norm
    return out


def _normalise_rows(matrix: Any, is_word: np.ndarray) -> Any:
    """The training matrix, each row normalised exactly as :func:`_normalise_blocks` does."""
    matrix = matrix.astype(np.float64)
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end > start:
            cols = matrix.indices[start:end]
            matrix.data[start:end] = _normalise_blocks(matrix.data[start:end], is_word[cols])
    return matrix


def save(model: TextModel, path: Path) -> None:
    """Write atomically (a crash leaves the old model or the new one, never half of one)."""
    names = [""] * len(model.vocabulary)
    for name, i in model.vocabulary.items():
        names[i] = name
    blob = np.frombuffer("\n".join(names).encode("utf-8"), dtype=np.uint8)
    meta = dict(model.meta, classes=[c.value for c in model.classes])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez_compressed(
            fh,
            meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8),
            features=blob,
            idf=model.idf,
            weights=model.weights,
            intercept=model.intercept,
        )
    tmp.replace(path)


def load(path: Path) -> TextModel:
    """Read a model file written by :func:`save`; raises ModelFileError with one clear line."""
    try:
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            names = bytes(data["features"]).decode("utf-8").split("\n")
            idf, weights, intercept = data["idf"], data["weights"], data["intercept"]
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no text model (mailbot model train builds it)") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: not a readable text model ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: unknown model format {meta.get('format')!r}, retrain it")
    try:
        classes = tuple(Category(c) for c in meta["classes"])
    except (KeyError, ValueError):
        raise ModelFileError(
            f"{path}: the model names categories mailbot does not know, retrain it"
        ) from None
    if not (len(names) == len(idf) == weights.shape[0]) or weights.shape[1:] != (len(classes),):
        raise ModelFileError(f"{path}: the model's arrays do not fit together, retrain it")
    return TextModel(classes, {n: i for i, n in enumerate(names)}, idf, weights, intercept, meta)
