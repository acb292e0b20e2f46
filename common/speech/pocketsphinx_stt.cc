#include "common/speech/pocketsphinx_stt.h"

#include <pocketsphinx.h>
#include <sphinxbase/ckd_alloc.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>
#include <unistd.h>

#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/status/status.h"

namespace parley::speech {
namespace {

constexpr char kGrammarSearch[] = "grammar";
constexpr char kLmSearch[] = "lm";

// The last error pocketsphinx reported on this thread, for status messages.
thread_local std::string t_last_error;

void OnSphinxLog(void* /*user_data*/, err_lvl_t level, const char* fmt, ...) {
  if (level < ERR_ERROR) return;
  char message[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(message, sizeof(message), fmt, args);
  va_end(args);
  t_last_error = message;
  while (!t_last_error.empty() && std::isspace(static_cast<unsigned char>(t_last_error.back()))) {
    t_last_error.pop_back();
  }
}

// sphinxbase logs through one process-wide callback. "-logfn" would swap a process-wide FILE*
// on every decoder creation (closing the previous one under other threads' feet), so the
// callback is installed once instead. The configuration dump at ps_init bypasses the callback
// and writes to the log FILE*, which is disabled first (only possible while the default
// callback is in place).
void SilenceSphinxLog() {
  static std::once_flag once;
  std::call_once(once, [] {
    err_set_logfp(nullptr);
    err_set_callback(&OnSphinxLog, nullptr);
  });
}

std::string LastError(std::string_view fallback) {
  return t_last_error.empty() ? std::string(fallback) : t_last_error;
}

// Model loading touches sphinxbase's process-wide state (the log callback among it); loads take
// turns. Decoding itself needs no lock: decoders share nothing.
absl::Mutex& LoadMutex() {
  static absl::Mutex* const mu = new absl::Mutex();
  return *mu;
}

absl::Status CheckReadable(std::string_view what, const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("pocketsphinx: ", AbslView(what), " \"", path, "\" is not readable"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string BuildJsgf(const std::vector<std::string>& phrases) {
  std::string alternatives;
  for (const std::string& phrase : phrases) {
    if (!alternatives.empty()) alternatives += " | ";
    absl::StrAppend(&alternatives, "(", phrase, ")");
  }
  // One or more phrases in a row: callees run them together ("yes, speaking"), and a grammar of
  // single phrases would force a two-phrase utterance onto whichever one phrase sounds closest.
  return absl::StrCat("#JSGF V1.0;\ngrammar parley;\n<phrase> = ", alternatives,
                      ";\npublic <utterance> = <phrase>+;\n");
}

absl::StatusOr<std::unique_ptr<PocketsphinxRecognizer>> PocketsphinxRecognizer::Create(
    const PocketsphinxOptions& options) {
  const PocketsphinxModel& model = options.model;
  PARLEY_RETURN_IF_ERROR(CheckReadable("acoustic model", model.hmm + "/mdef"));
  PARLEY_RETURN_IF_ERROR(CheckReadable("dictionary", model.dict));
  if (!model.lm.empty()) PARLEY_RETURN_IF_ERROR(CheckReadable("language model", model.lm));
  SilenceSphinxLog();

  ps_decoder_t* decoder = nullptr;
  {
    absl::MutexLock lock(&LoadMutex());
    t_last_error.clear();
    cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", model.hmm.c_str(), "-dict",
                                   model.dict.c_str(), nullptr);
    if (config == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("pocketsphinx: bad configuration: ", LastError("cmd_ln_init failed")));
    }
    if (options.beam > 0) {
      for (const char* beam : {"-beam", "-pbeam", "-wbeam"}) {
        cmd_ln_set_float_r(config, beam, options.beam);
      }
    }
    decoder = ps_init(config);
    cmd_ln_free_r(config);  // the decoder holds its own reference
  }
  if (decoder == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("pocketsphinx: cannot load the model: ", LastError("ps_init failed")));
  }
  std::unique_ptr<PocketsphinxRecognizer> recognizer(new PocketsphinxRecognizer(decoder, options));
  if (!options.initial_cmn.empty()) {
    cmn_t* cmn = ps_get_feat(decoder)->cmn_struct;
    if (cmn == nullptr || static_cast<size_t>(cmn->veclen) != options.initial_cmn.size()) {
      return absl::InvalidArgumentError(absl::StrCat("initial_cmn: expected ",
                                                     cmn == nullptr ? 0 : cmn->veclen,
                                                     " values, got ", options.initial_cmn.size()));
    }
    const std::vector<mfcc_t> means(options.initial_cmn.begin(), options.initial_cmn.end());
    cmn_live_set(cmn, means.data());
  }
  if (options.preload_language_model) PARLEY_RETURN_IF_ERROR(recognizer->UseLanguageModel());
  return recognizer;
}

PocketsphinxRecognizer::~PocketsphinxRecognizer() {
  if (in_utterance_) ps_end_utt(decoder_);
  ps_free(decoder_);
}

std::vector<float> PocketsphinxRecognizer::CmnEstimate() {
  cmn_t* cmn = ps_get_feat(decoder_)->cmn_struct;
  if (cmn == nullptr) return {};
  std::vector<mfcc_t> means(cmn->veclen);
  cmn_live_get(cmn, means.data());
  return std::vector<float>(means.begin(), means.end());
}

bool PocketsphinxRecognizer::HasWord(std::string_view word) {
  char* phones = ps_lookup_word(decoder_, std::string(word).c_str());
  if (phones == nullptr) return false;
  ckd_free(phones);
  return true;
}

absl::StatusOr<std::vector<std::string>> PocketsphinxRecognizer::SetPhrases(
    const std::vector<std::string>& phrases) {
  if (in_utterance_) {
    return absl::FailedPreconditionError("pocketsphinx: cannot change phrases mid-utterance");
  }
  std::vector<std::string> kept;
  absl::flat_hash_set<std::string> seen;
  for (const std::string& phrase : phrases) {
    const std::vector<std::string> words = PhraseWords(phrase);
    if (words.empty()) continue;
    bool known = true;
    for (const std::string& word : words) known = known && HasWord(word);
    if (!known) continue;
    std::string normalised = absl::StrJoin(words, " ");
    if (seen.insert(normalised).second) kept.push_back(std::move(normalised));
  }
  if (kept.empty()) {
    PARLEY_RETURN_IF_ERROR(UseLanguageModel());
    return kept;
  }
  std::string jsgf = BuildJsgf(kept);
  t_last_error.clear();
  if (ps_set_jsgf_string(decoder_, kGrammarSearch, jsgf.c_str()) < 0 ||
      ps_set_search(decoder_, kGrammarSearch) < 0) {
    return absl::InternalError(
        absl::StrCat("pocketsphinx: grammar rejected: ", LastError("ps_set_jsgf_string failed")));
  }
  grammar_ = std::move(jsgf);
  return kept;
}

absl::Status PocketsphinxRecognizer::EnsureLanguageModel() {
  if (lm_loaded_) return absl::OkStatus();
  if (options_.model.lm.empty()) {
    return absl::FailedPreconditionError("pocketsphinx: no language model configured");
  }
  absl::MutexLock lock(&LoadMutex());
  t_last_error.clear();
  if (ps_set_lm_file(decoder_, kLmSearch, options_.model.lm.c_str()) < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pocketsphinx: cannot load the language model: ", LastError("ps_set_lm_file failed")));
  }
  lm_loaded_ = true;
  return absl::OkStatus();
}

absl::Status PocketsphinxRecognizer::UseLanguageModel() {
  if (in_utterance_) {
    return absl::FailedPreconditionError("pocketsphinx: cannot switch searches mid-utterance");
  }
  PARLEY_RETURN_IF_ERROR(EnsureLanguageModel());
  if (ps_set_search(decoder_, kLmSearch) < 0) {
    return absl::InternalError(absl::StrCat("pocketsphinx: ", LastError("ps_set_search failed")));
  }
  grammar_.clear();
  return absl::OkStatus();
}

absl::Status PocketsphinxRecognizer::StartUtterance() {
  if (in_utterance_)
    return absl::FailedPreconditionError("pocketsphinx: utterance already started");
  // Neither phrases nor the language model chosen yet: open vocabulary.
  if (grammar_.empty() && !lm_loaded_) PARLEY_RETURN_IF_ERROR(UseLanguageModel());
  t_last_error.clear();
  if (ps_start_utt(decoder_) < 0) {
    return absl::InternalError(absl::StrCat("pocketsphinx: ", LastError("ps_start_utt failed")));
  }
  in_utterance_ = true;
  return absl::OkStatus();
}

absl::Status PocketsphinxRecognizer::Process(std::span<const int16_t> samples) {
  if (!in_utterance_) return absl::FailedPreconditionError("pocketsphinx: no utterance started");
  if (samples.empty()) return absl::OkStatus();
  if (ps_process_raw(decoder_, samples.data(), samples.size(), FALSE, FALSE) < 0) {
    return absl::InternalError(absl::StrCat("pocketsphinx: ", LastError("ps_process_raw failed")));
  }
  return absl::OkStatus();
}

std::string PocketsphinxRecognizer::Partial() { return Hypothesis(); }

absl::StatusOr<std::string> PocketsphinxRecognizer::EndUtterance() {
  if (!in_utterance_) return absl::FailedPreconditionError("pocketsphinx: no utterance started");
  in_utterance_ = false;
  if (ps_end_utt(decoder_) < 0) {
    return absl::InternalError(absl::StrCat("pocketsphinx: ", LastError("ps_end_utt failed")));
  }
  return Hypothesis();
}

std::string PocketsphinxRecognizer::Hypothesis() {
  int32 score = 0;
  const char* hyp = ps_get_hyp(decoder_, &score);
  if (hyp == nullptr) return "";
  // Alternative pronunciations may surface as "word(2)"; the caller wants the word.
  std::vector<std::string> words;
  for (absl::string_view w : absl::StrSplit(hyp, ' ', absl::SkipEmpty())) {
    words.emplace_back(w.substr(0, w.find('(')));
  }
  return absl::StrJoin(words, " ");
}

}  // namespace parley::speech
