// What the voice pipeline needs from the conversation logic: the greeting, a reply to each
// callee turn (streamed as text), and the words to expect next. The worker's implementation is
// the graph engine (engine_dialogue.h); tests of the audio path use small doubles.
//
//   DialogueTurn greeting = *dialogue.Start([&](std::string_view text) { Speak(text); });
//   DialogueTurn turn = *dialogue.Reply("yes that's me", speak, &cancel);
//   if (turn.end_call) EndAfterPlayback(turn.outcome, turn.ended_reason);
//
// Called from one thread at a time (the pipeline's speaker thread).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/speech/providers.h"
#include "parley/v1/common.pb.h"

namespace parley::worker {

struct DialogueTurn {
  // End the call once this turn's audio has played.
  bool end_call = false;
  parley::v1::CallStatus outcome = parley::v1::CALL_STATUS_COMPLETED;
  std::string ended_reason;  // "graph_end", "opt_out", "end_call_phrase", "node_visit_limit", …
  // The callee asked not to be called again: the number goes on the DNC list.
  bool opt_out = false;
  std::string transfer_to;  // E.164, when the turn transfers the call
  std::string node;         // graph node after the turn
  // Request → first token of the language model, when one was asked.
  std::optional<absl::Duration> llm_first_token;
};

class Dialogue {
 public:
  virtual ~Dialogue() = default;
  // The greeting, without a language model (it is synthesised while the phone rings).
  virtual absl::StatusOr<DialogueTurn> Start(absl::FunctionRef<void(std::string_view)> say) = 0;
  // The reply to the callee's turn `text`; `say` gets the reply text in pieces as produced.
  // CANCELLED when `cancel` was raised.
  virtual absl::StatusOr<DialogueTurn> Reply(std::string_view text,
                                             absl::FunctionRef<void(std::string_view)> say,
                                             const speech::CancelFlag* cancel) = 0;
  // The last agent turn was cut off; the callee heard only `heard`.
  virtual void Interrupted(std::string_view heard) = 0;
  // Phrases the callee is likely to say next (for the recogniser's grammar); empty: anything.
  virtual std::vector<std::string> ExpectedPhrases() = 0;
  virtual std::string current_node() = 0;
  // What to say when the callee has been silent, and when the call must end for `reason`
  // ("silence_timeout", "max_duration", "worker_draining").
  virtual std::string NudgeText() = 0;
  virtual std::string GoodbyeText(std::string_view reason) = 0;
  // The end-of-call summary.
  virtual std::string Summary() = 0;
  // Writes what the last Start/Reply changed (state patches, node events). The pipeline calls it
  // once the turn's audio is queued, so those round trips never delay what the callee hears.
  virtual void Persist() {}
};

}  // namespace parley::worker
