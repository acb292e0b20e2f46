// Embedded, offline speech recognition with pocketsphinx 0.8 (the `pocketsphinx` STT provider):
// 16 kHz mono int16 audio in, text out, restricted to the phrases the conversation expects when
// there are any (a JSGF grammar) and open vocabulary (the en-us language model) otherwise.
//
//   PARLEY_ASSIGN_OR_RETURN(auto stt, PocketsphinxRecognizer::Create());   // ~0.15 s, see below
//   PARLEY_ASSIGN_OR_RETURN(auto kept, stt->SetPhrases({"yes that is me", "no thanks"}));
//   PARLEY_RETURN_IF_ERROR(stt->StartUtterance());
//   for (const auto& frame : frames) {
//     PARLEY_RETURN_IF_ERROR(stt->Process(frame));
//     ShowPartial(stt->Partial());
//   }
//   PARLEY_ASSIGN_OR_RETURN(std::string text, stt->EndUtterance());   // "yes that is me"
//
// A decoder is not thread-safe and holds per-utterance state, so each call owns one
// PocketsphinxRecognizer (any number may run on different threads; model loading takes turns
// under a process-wide lock). Costs measured on a 2-core build machine: creating a recogniser
// takes 0.13-0.23 s and ~28 MB (acoustic model and the 130k-word dictionary — pocketsphinx 0.8
// has no API to share them between decoders); the language model adds 0.2-0.35 s and ~64 MB
// per decoder the first time it is used (its search structures are per decoder even when the
// model file is shared), so it is loaded lazily unless `preload_language_model`. Decoding takes
// ~1% of real time with a grammar and ~20% with the language model. Create recognisers while the
// phone rings, not after answer.
//
// pocketsphinx logs copiously to stderr; this library installs a process-wide sphinxbase log
// callback that drops everything, keeping the thread's last error message for the statuses it
// returns.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/speech/words.h"

struct ps_decoder_s;

namespace parley::speech {

// Files of a pocketsphinx model. The defaults are Debian's pocketsphinx-en-us package.
struct PocketsphinxModel {
  // Acoustic model directory.
  std::string hmm = "/usr/share/pocketsphinx/model/en-us/en-us";
  // Pronunciation dictionary.
  std::string dict = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict";
  // Language model for open-vocabulary recognition; empty: grammar only.
  std::string lm = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin";
};

struct PocketsphinxOptions {
  PocketsphinxModel model;
  // Load the language model in Create instead of when it is first needed.
  bool preload_language_model = false;
  // Cepstral means to start from (13 values, as CmnEstimate() returns) instead of the model's.
  // The decoder adapts its estimate to the line and voice as it listens, so the first utterance
  // of a fresh decoder is recognised worst; seeding it with an estimate from earlier calls of the
  // same kind fixes that (in this library's tests, "stop calling me" from a fresh decoder reads
  // "oh really", from a seeded one "stop calling me").
  std::vector<float> initial_cmn;
  // Search beam (pocketsphinx's -beam, -pbeam and -wbeam at once); 0 keeps pocketsphinx's
  // defaults (1e-48, 1e-48, 7e-29). Smaller values keep more paths alive: with long grammar
  // phrases over audio unlike the model's (8 kHz telephone audio resampled to 16 kHz), the
  // default beams can prune every path through the right phrase and leave no hypothesis at all.
  double beam = 0;
};

// A JSGF grammar accepting one or more of `phrases` in a row (each normalised by PhraseWords,
// words.h, and joined by single spaces): "#JSGF V1.0;\ngrammar parley;\n<phrase> = (yes) |
// (no thanks);\npublic <utterance> = <phrase>+;\n".
std::string BuildJsgf(const std::vector<std::string>& phrases);

class PocketsphinxRecognizer final {
 public:
  // Loads the model. Fails with FAILED_PRECONDITION when a model file is missing or unreadable,
  // INVALID_ARGUMENT when initial_cmn has the wrong length.
  static absl::StatusOr<std::unique_ptr<PocketsphinxRecognizer>> Create(
      const PocketsphinxOptions& options = {});
  ~PocketsphinxRecognizer();
  PocketsphinxRecognizer(const PocketsphinxRecognizer&) = delete;
  PocketsphinxRecognizer& operator=(const PocketsphinxRecognizer&) = delete;

  // Restricts the next utterances to `phrases` (normalised with PhraseWords). Phrases with a word
  // missing from the dictionary are dropped — pocketsphinx rejects a grammar with unknown words —
  // and duplicates are merged. Returns the normalised phrases kept; when none are, recognition
  // falls back to the language model (as after UseLanguageModel). Fails with
  // FAILED_PRECONDITION during an utterance or when the fallback is needed but the model has no
  // language model, and INTERNAL when pocketsphinx rejects the grammar.
  absl::StatusOr<std::vector<std::string>> SetPhrases(const std::vector<std::string>& phrases);

  // Recognises open vocabulary with the language model from the next utterance (loading it on
  // first use). Fails with FAILED_PRECONDITION during an utterance or when the model has no
  // language model or it cannot be loaded.
  absl::Status UseLanguageModel();

  // Starts an utterance. Fails with FAILED_PRECONDITION when one is already started.
  absl::Status StartUtterance();
  // Feeds audio of the current utterance (16 kHz mono, any length). Fails with
  // FAILED_PRECONDITION outside an utterance and INTERNAL when pocketsphinx fails.
  absl::Status Process(std::span<const int16_t> samples);
  // The best hypothesis so far in the current utterance, or the final one after EndUtterance;
  // empty when nothing is recognised.
  std::string Partial();
  // Ends the utterance and returns its final hypothesis (empty when nothing was recognised).
  // Fails with FAILED_PRECONDITION outside an utterance and INTERNAL when pocketsphinx fails.
  absl::StatusOr<std::string> EndUtterance();

  // The decoder's current cepstral-mean estimate (13 values), adapted to the audio heard so far;
  // seed later recognisers with it (PocketsphinxOptions::initial_cmn).
  std::vector<float> CmnEstimate();

  // True when `word` (lower case) is in the dictionary.
  bool HasWord(std::string_view word);
  bool in_utterance() const { return in_utterance_; }
  // The grammar in use; empty while using the language model.
  const std::string& grammar() const { return grammar_; }

 private:
  PocketsphinxRecognizer(ps_decoder_s* decoder, PocketsphinxOptions options)
      : decoder_(decoder), options_(std::move(options)) {}
  absl::Status EnsureLanguageModel();
  std::string Hypothesis();

  ps_decoder_s* const decoder_;
  const PocketsphinxOptions options_;
  bool lm_loaded_ = false;
  bool in_utterance_ = false;
  std::string grammar_;
};

}  // namespace parley::speech
