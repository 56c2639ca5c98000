"""The text model file: deterministic, safe to load (no pickles), and read the way it was trained."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

from mailbot.adapters.text_model import Example, ModelFileError, load, save, train
from mailbot.domain.model import Category
from mailbot.domain.model_text import FeatureExtractor

TEXTS = {
    Category.COMPLAINT: [
        "ik ben ontevreden over mijn coach en wil een klacht indienen",
        "wat een slechte service, de coach kwam niet opdagen, ik ben boos",
        "ontevreden over de factuur en de coach, dit is een klacht",
        "the coach was rude and I am very unhappy with your service",
    ],
    Category.ERASURE: [
        "verwijder al mijn gegevens uit jullie systemen alstublieft",
        "graag al mijn persoonsgegevens verwijderen, ik wil vergeten worden",
        "please delete all my personal data, right to be forgotten",
        "wis mijn gegevens en mijn dossier, verwijderen graag",
    ],
    Category.OTHER: [
        "hoe laat begint de workshop volgende week dinsdag",
        "kunnen jullie een offerte sturen voor een teamtraining",
        "is er nog plek in de workshop van dinsdag",
        "what time does the workshop start next tuesday",
    ],
}
EXAMPLES = [Example(t, c) for c, texts in TEXTS.items() for t in texts]


def digest(path: Path) -> str:
    with np.load(path, allow_pickle=False) as data:
        h = hashlib.sha256()
        for name in sorted(data.files):
            h.update(name.encode() + data[name].tobytes())
        return h.hexdigest()


def test_same_data_same_model(tmp_path: Path) -> None:
    save(train(EXAMPLES), tmp_path / "a.npz")
    save(train(EXAMPLES), tmp_path / "b.npz")
    assert digest(tmp_path / "a.npz") == digest(tmp_path / "b.npz")
    save(train(EXAMPLES[:-1]), tmp_path / "c.npz")
    assert digest(tmp_path / "c.npz") != digest(tmp_path / "a.npz")


def test_a_loaded_model_predicts_what_the_trained_one_does(tmp_path: Path) -> None:
    model = train(EXAMPLES)
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    for text in ("ik wil een klacht indienen over mijn coach", "verwijder mijn gegevens", "hallo"):
        a, b = model.predict(text).shares, loaded.predict(text).shares
        assert a.keys() == b.keys()
        assert all(abs(a[c] - b[c]) < 1e-6 for c in a)
    assert abs(sum(loaded.predict("verwijder mijn gegevens").shares.values()) - 1.0) < 1e-6
    assert max(loaded.predict("verwijder mijn gegevens").shares.items(), key=lambda kv: kv[1])[0] is (
        Category.ERASURE
    )


def test_columns_are_the_training_features_looked_up() -> None:
    model = train(EXAMPLES)
    text = "ik wil al mijn gegevens verwijderen, onbekendwoord"
    expected: dict[int, int] = {}
    for feature in FeatureExtractor()(text):
        if feature in model.vocabulary:
            column = model.vocabulary[feature]
            expected[column] = expected.get(column, 0) + 1
    assert dict(model.columns(text)) == expected
    assert expected  # the text shares features with the training data


def test_reasons_are_words_that_pushed_the_category_up() -> None:
    prediction = train(EXAMPLES).predict("verwijder al mijn gegevens")
    words = prediction.reasons[Category.ERASURE]
    assert words and all(" " in w or w.isalpha() for w in words)
    assert any(w in ("verwijder", "gegevens", "mijn gegevens", "al mijn") for w in words)


def test_a_file_that_is_not_a_model_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError) as refused:
        load(bad)
    message = str(refused.value)
    assert "\n" not in message and "not a readable text model" in message and "Error" not in message
    with pytest.raises(ModelFileError, match="no text model"):
        load(tmp_path / "missing.npz")


def test_a_pickled_array_is_never_unpickled(tmp_path: Path) -> None:
    """An .npz with an object array would run code on load; allow_pickle=False refuses it."""
    path = tmp_path / "evil.npz"
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array([{"format": "x"}], dtype=object), features=np.array([1]))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ModelFileError):
        load(path)


def test_arrays_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    model = train(EXAMPLES)
    model.idf = model.idf[:-1]
    save(model, tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match="do not fit"):
        load(tmp_path / "m.npz")


def test_a_vocabulary_numbered_out_of_feature_name_order_is_refused(tmp_path: Path) -> None:
    """Prediction splits a message's sorted columns into n-grams and words at one point, which
    holds only for the name order ``fit`` produces; a file numbered otherwise is refused."""
    model = train(EXAMPLES)
    gram = next(n for n in model.vocabulary if n.startswith("c:"))
    word = next(n for n in model.vocabulary if n.startswith("w:"))
    model.vocabulary[gram], model.vocabulary[word] = model.vocabulary[word], model.vocabulary[gram]
    save(model, tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match="feature-name order"):
        load(tmp_path / "m.npz")
