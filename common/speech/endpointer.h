// End-of-turn decisions: when the callee has stopped speaking long enough for the agent to reply
// (the template's `endpointing`, EndpointingConfig).
//
// After the VAD reports the end of speech the endpointer waits `min_delay`; while the turn's
// transcript looks unfinished ("so I was thinking and", "um") it waits up to `max_delay`
// instead. Speech resuming cancels the wait and the turn goes on. Time comes from a Clock, so
// tests drive it with FakeClock.
//
//   Endpointer endpointer({.min_delay = absl::Milliseconds(500),
//                          .max_delay = absl::Milliseconds(1500)}, SystemClock::Get());
//   // pipeline thread, every frame:
//   if (event == VadEvent::kSpeechStart) endpointer.OnSpeechStart();
//   if (event == VadEvent::kSpeechEnd) endpointer.OnSpeechEnd();
//   if (stt_result_changed) endpointer.OnTranscript(turn_text_so_far);
//   if (endpointer.Poll()) ReplyTo(turn_text_so_far);   // true once per turn
//
// Not thread-safe: one per call, used from the call's pipeline thread.
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/speech/clock.h"

namespace parley::speech {

struct EndpointerOptions {
  // Wait at least this long after speech ends.
  absl::Duration min_delay = absl::Milliseconds(500);
  // Wait at most this long while the transcript looks unfinished (raised to min_delay if lower).
  absl::Duration max_delay = absl::Milliseconds(1500);
  // The STT punctuates its results (cloud STTs, Whisper): a transcript without a final '.', '!'
  // or '?' then looks unfinished. Leave off for pocketsphinx, which never punctuates.
  bool stt_punctuates = false;
};

// True when `transcript` looks like its speaker has more to say: its last word is a conjunction,
// filler, article or preposition ("and", "but", "so", "because", "um", "uh", "the", "to"…), or it
// ends with ',' / '…', or — when `punctuated` — it lacks a final '.', '!' or '?'. Empty text is
// not unfinished (there is nothing to wait for).
bool LooksUnfinished(std::string_view transcript, bool punctuated);

class Endpointer final {
 public:
  // `clock` must outlive the endpointer.
  Endpointer(const EndpointerOptions& options, Clock* clock);

  // The callee is speaking (again): any pending end of turn is cancelled.
  void OnSpeechStart();
  // Speech ended now (or at `stopped_at`, when the caller knows when the last voiced audio was):
  // the wait starts from there.
  void OnSpeechEnd();
  void OnSpeechEnd(absl::Time stopped_at);
  // The turn's transcript so far (partial or final, the whole turn, not a delta).
  void OnTranscript(std::string_view transcript);

  // True when the turn has ended: speech stopped at least min_delay ago (max_delay while the
  // transcript looks unfinished) and has not resumed. Returns true once; the endpointer then
  // forgets the transcript and waits for the next turn.
  bool Poll();

  // When Poll() will return true if nothing else happens; absl::InfiniteFuture() when no turn
  // is waiting to end. The pipeline may sleep until then.
  absl::Time deadline() const;
  // True between a speech end and the end of the turn (or speech resuming).
  bool waiting() const { return waiting_; }

  // Forgets the current turn (transcript and any pending end).
  void Reset();

 private:
  const EndpointerOptions options_;
  Clock* const clock_;
  bool waiting_ = false;
  absl::Time stopped_at_ = absl::InfinitePast();
  std::string transcript_;
};

}  // namespace parley::speech
