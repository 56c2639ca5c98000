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
        self._grams: dict[str, bytes] = {}  # word → columns of its character n-grams, as int32
        self._words, self._pairs = _word_tables(self.vocabulary)
        self._first_word = _first_word_column(_word_columns(self.vocabulary))
        # idf beside each weight row: a prediction reads both for a few hundred scattered features,
        # and one row read instead of two halves the memory it touches (with the parser and the
        # rules running between predictions, those reads miss the CPU cache).
        self._table = np.hstack((self.idf[:, None], self.weights)).astype(np.float32)
        self.idf, self.weights = self._table[:, 0], self._table[:, 1:]  # views: the arrays once in memory

    def columns(self, text: str) -> Counter[int]:
        """Column → count: what :class:`FeatureExtractor` yields, looked up in the vocabulary."""
        idx, counts = self._column_counts(text)
        return Counter(dict(zip(idx.tolist(), counts.tolist(), strict=True)))

    def _column_counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Present columns (sorted) and their counts.

        Features the model does not know are dropped as they are made. Words are looked up without
        building their ``w:`` names, and a word pair by its two words' columns (with ``min_df`` a
        known pair implies known words; an unknown word's -1 matches no pair). Each word's n-gram
        columns are cached as packed int32 bytes, so a message's n-grams — most of its features —
        become one array by one ``join`` instead of one Python integer at a time; the counting is
        one sort.
        """
        words, pairs = self._words, self._pairs
        tokens = [words.get(w, -1) for w in TOKEN.findall(text)]
        cols = [i for i in tokens if i >= 0]
        for key in itertools.pairwise(tokens):
            if (i := pairs.get(key)) is not None:
                cols.append(i)
        pieces = text.split()
        cache = self._grams
        try:
            grams = b"".join([cache[w] for w in pieces])
        except KeyError:
            if len(cache) + len(pieces) >= _GRAM_CACHE_LIMIT:
                cache.clear()
            for w in pieces:
                if w not in cache:
                    cache[w] = self._gram_columns(w)
            grams = b"".join([cache[w] for w in pieces])
        found = np.concatenate((np.frombuffer(grams, dtype=np.int32), np.array(cols, dtype=np.int32)))
        return _count_sorted(found)

    def _gram_columns(self, word: str) -> bytes:
        vocab = self.vocabulary
        known = [i for g in char_grams(word) if (i := vocab.get(g)) is not None]
        return np.array(known, dtype=np.int32).tobytes()

    def predict(self, text: str) -> Prediction:
        """Share per category, and the words that pushed the two strongest categories up."""
        idx, counts = self._column_counts(text)
        if not len(idx):
            margins = self.intercept.astype(np.float64)
            return Prediction(self._shares(margins), {})
        table = self._table[idx]  # one gather: idf and the weight row of each present feature
        rows = table[:, 1:]  # (present features, classes)
        values = (1.0 + np.log(counts)) * table[:, 0]
        _normalise_blocks(values, int(np.searchsorted(idx, self._first_word)))
        shares = self._shares(values @ rows + self.intercept)
        top = tuple(sorted(shares, key=shares.__getitem__, reverse=True)[:2])
        return Prediction(shares, _Reasons(self, idx, values, rows, top))

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
        useful = np.flatnonzero((idx >= self._first_word) & (contribution > 0))
        if len(useful) > limit:
            useful = useful[np.argpartition(-contribution[useful], limit - 1)[:limit]]
        best = useful[np.argsort(-contribution[useful], kind="stable")]
        return tuple(names[int(idx[j])][2:] for j in best)


class _Reasons(Mapping[Category, tuple[str, ...]]):
    """The words behind the two strongest categories, worked out only when asked for: most
    decisions show the reasons of one category at most, and sorting contributions for every
    prediction was a seventh of the model's cost."""

    def __init__(
        self,
        model: TextModel,
        idx: np.ndarray,
        values: np.ndarray,
        rows: np.ndarray,
        top: tuple[Category, ...],
    ):
        self._model, self._idx, self._values, self._rows, self._top = model, idx, values, rows, top
        self._done: dict[Category, tuple[str, ...]] = {}

    def __getitem__(self, category: Category) -> tuple[str, ...]:
        if category not in self._top:
            raise KeyError(category)
        if category not in self._done:
            column = self._rows[:, self._model.classes.index(category)] * self._values
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
    matrix = _normalise_rows(counts.tocsr(), _first_word_column(_word_columns(vocabulary)))
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


def _word_tables(vocabulary: dict[str, int]) -> tuple[dict[str, int], dict[tuple[int, int], int]]:
    """Word → column, and (column, column) → the pair's column: the look-ups prediction makes
    per word, keyed so that no feature name has to be formatted for them."""
    words = {name[2:]: i for name, i in vocabulary.items() if name.startswith("w:") and " " not in name}
    pairs: dict[tuple[int, int], int] = {}
    for name, i in vocabulary.items():
        if name.startswith("w:") and " " in name:
            a, _, b = name[2:].partition(" ")
            if a in words and b in words:
                pairs[words[a], words[b]] = i
    return words, pairs


def _count_sorted(found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (sorted) and how often each occurs: ``np.unique(return_counts=True)``
    without its general-purpose overhead, which was a fifth of a prediction."""
    if not len(found):
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    found.sort()
    starts = np.flatnonzero(np.concatenate(([True], found[1:] != found[:-1])))
    return found[starts], np.diff(np.append(starts, len(found)))


def _first_word_column(is_word: np.ndarray) -> int:
    """Where the word columns start: after every n-gram column, as scikit-learn numbers features in
    name order (``c:`` before ``w:``), so a message's sorted columns split into the two blocks at
    one point. Raises ValueError for a vocabulary numbered otherwise (not one :func:`fit` made)."""
    first = int(np.argmax(is_word)) if is_word.any() else len(is_word)
    if not bool(is_word[first:].all()) or bool(is_word[:first].any()):
        raise ValueError("the vocabulary is not in feature-name order")
    return first


def _normalise_blocks(values: np.ndarray, split: int) -> None:
    """One message's tf-idf values, its columns sorted (n-grams, then words from ``split``), in
    place: each block to unit length, the word block to WORD_WEIGHT. Training and prediction both
    call it, so the model is applied to features normalised exactly as it learnt them."""
    for block, weight in ((values[split:], WORD_WEIGHT), (values[:split], 1.0)):
        norm = float(np.sqrt(block @ block))
        if norm > 0:
            block *= weight / norm


def _normalise_rows(matrix: Any, first_word: int) -> Any:
    """The training matrix, each row normalised by :func:`_normalise_blocks`."""
    matrix = matrix.astype(np.float64)
    matrix.sort_indices()
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end > start:
            split = int(np.searchsorted(matrix.indices[start:end], first_word))
            _normalise_blocks(matrix.data[start:end], split)
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
    try:
        return TextModel(classes, {n: i for i, n in enumerate(names)}, idf, weights, intercept, meta)
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}, retrain it") from None
