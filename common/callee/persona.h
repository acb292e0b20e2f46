// Personas: how a simulated callee behaves — the YAML files `parleyctl phone --persona` and the
// agent tests load (deploy/examples/personas/). A persona says whether the phone is answered
// (or is busy, not answered, declined, hung up while ringing, or a voicemail box), how long it
// rings, the voice it speaks with, and what it says, turn by turn:
//
//   kind: persona
//   name: cooperative-lead
//   spec:
//     description: Books the first slot.       # optional, free text
//     answer: answer       # answer | busy | no_answer | decline | hangup_while_ringing | voicemail
//     ring_ms: 1500        # Ringing → Answer/Reject (default 1000; no_answer rings until the
//                          #   worker gives up)
//     voice: {name: en-us, speed: 1.0, pitch: 50}   # espeak-ng voice (default en-us, 1.0, 50)
//     pause_ms: 700        # the agent must have been silent this long before the callee speaks
//     replies:             # spoken in order, one per agent turn
//       - "Yes, speaking."                          # plain text
//       - when: ["three months", "timeline"]       # keyed: preferred when the agent's last
//         say: "As soon as possible."              #   utterance contains one of the phrases
//       - silence: true                            # say nothing this turn (silence timeouts)
//       - say: "Sorry, who is this?"
//         interrupt_after_ms: 1500                 # barge in once the agent has talked 1.5 s
//         pause_ms: 300                            # per-reply override of spec.pause_ms
//     hangup:
//       after_last_reply_ms: 2000   # hang up this long after the last reply (default: stay on
//                                   #   the line until the agent hangs up)
//       after_s: 120                # hang up this long after answering, whatever happens
//     voicemail:                    # only with answer: voicemail
//       greeting: "Hi, you've reached Sam, please leave a message after the tone."
//       beep_hz: 1000               # default 1000
//       beep_ms: 500                # default 500
//       record_s: 30                # hang up this long after the beep (default 30)
//       end_silence_ms: 3000        # …or when the caller spoke and then was silent this long
//     faults:                       # misbehaviour, for chaos tests of the worker (tests/chaos)
//       garbage_audio: true         # every audio frame sent is random bytes, not Opus
//       stop_audio_after_ms: 3000   # send no audio at all from this long after answering (the
//                                   #   stream stays open, as when packets stop arriving)
//       hangup_mid_reply_ms: 400    # hang up this far into the callee's first spoken reply
//
// Replies are matched to the agent's turns: when the agent has spoken and then stayed silent for
// `pause_ms`, the callee says the next reply. Keyed replies need to know what the agent said,
// which the media protocol does not carry: the endpoint recognises the agent's audio only when it
// is given a recogniser (persona_endpoint.h); without one, `when` is ignored and every reply is
// spoken in list order.
//
//   PARLEY_ASSIGN_OR_RETURN(Persona persona,
//   LoadPersonaFile("deploy/examples/personas/busy.yaml")); if (persona.answer ==
//   AnswerMode::kBusy) ...
//
// Errors name the file and the field: "lead.yaml: spec.replies[2].say: empty".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/speech/espeak_tts.h"

namespace parley::callee {

// What happens when the phone rings.
enum class AnswerMode {
  kAnswer,              // answer after ring_ms and talk
  kBusy,                // Reject(BUSY) after ring_ms
  kNoAnswer,            // ring until the worker gives up (its ring timeout → no_answer)
  kDecline,             // Reject(DECLINED) after ring_ms
  kHangupWhileRinging,  // Hangup(NORMAL) after ring_ms, before answering
  kVoicemail,           // answer after ring_ms as an answering machine
};

// The spelling of `mode` in persona files ("no_answer").
std::string_view AnswerModeName(AnswerMode mode);

// One entry of spec.replies.
struct Reply {
  // What to say; empty only for silence entries.
  std::string say;
  // Phrases of the agent's last utterance that select this reply (words.h ContainsPhrase); empty
  // for an unkeyed reply.
  std::vector<std::string> when;
  // Say nothing for this turn.
  bool silence = false;
  // Overrides PersonaSpec pause_ms for this reply.
  std::optional<int> pause_ms;
  // Speak as soon as the agent has been talking this long in its current turn, over it.
  std::optional<int> interrupt_after_ms;
};

struct Voicemail {
  std::string greeting =
      "Hi, you've reached the voicemail box. Please leave a message after the tone.";
  double beep_hz = 1000;
  int beep_ms = 500;
  int record_s = 30;
  int end_silence_ms = 3000;
};

// spec.faults: ways a real phone line misbehaves.
struct Faults {
  bool garbage_audio = false;
  std::optional<int> stop_audio_after_ms;
  std::optional<int> hangup_mid_reply_ms;
};

struct Persona {
  std::string name;
  std::string description;
  AnswerMode answer = AnswerMode::kAnswer;
  int ring_ms = 1000;
  speech::TtsVoice voice;
  int pause_ms = 700;
  std::vector<Reply> replies;
  std::optional<int> hangup_after_last_reply_ms;
  std::optional<int> hangup_after_s;
  Voicemail voicemail;
  Faults faults;
  // Where the persona came from (a file path), for messages.
  std::string source;

  // The pause before `reply`: its own pause_ms or the persona's.
  int PauseFor(const Reply& reply) const { return reply.pause_ms.value_or(pause_ms); }
};

// The persona documents in `text` (YAML, one or more documents; documents of other kinds are
// skipped). `source` names the text in errors. Fails with INVALID_ARGUMENT "<source>: <field>:
// <problem>" for malformed YAML, a missing or malformed name, an unknown field (anywhere), a
// value of the wrong type or out of range, an unknown answer mode, a reply without `say` that is
// not a silence entry, an empty `say` or `when` phrase, or `voicemail` settings on a persona that
// is not a voicemail box.
absl::StatusOr<std::vector<Persona>> ParsePersonas(std::string_view text, std::string_view source);

// The one persona in file `path`. Fails with NOT_FOUND when the file cannot be read,
// INVALID_ARGUMENT as ParsePersonas does, and when the file holds no persona or several.
absl::StatusOr<Persona> LoadPersonaFile(const std::string& path);

}  // namespace parley::callee
