#include "common/callee/persona_endpoint.h"

#include <utility>

#include "common/audio/tone.h"
#include "common/callee/persona_leg.h"
#include "common/status/status.h"

namespace parley::callee {

std::vector<CallEvent> CalleeCall::EventsOf(std::string_view kind) const {
  std::vector<CallEvent> out;
  for (const CallEvent& e : events) {
    if (e.kind == kind) out.push_back(e);
  }
  return out;
}

PersonaEndpoint::PersonaEndpoint(PersonaEndpointOptions options,
                                 std::unique_ptr<speech::EspeakTts> own_tts)
    : options_(std::move(options)),
      own_tts_(std::move(own_tts)),
      tts_(options_.tts != nullptr ? options_.tts : own_tts_.get()) {}

PersonaEndpoint::~PersonaEndpoint() = default;

absl::StatusOr<std::unique_ptr<PersonaEndpoint>> PersonaEndpoint::Create(
    Persona default_persona, PersonaEndpointOptions options) {
  std::unique_ptr<speech::EspeakTts> own;
  if (options.tts == nullptr) {
    PARLEY_ASSIGN_OR_RETURN(own, speech::EspeakTts::Create());
  }
  std::unique_ptr<PersonaEndpoint> endpoint(
      new PersonaEndpoint(std::move(options), std::move(own)));
  PARLEY_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> prepared,
                          endpoint->Prepare(default_persona));
  absl::MutexLock lock(&endpoint->mu_);
  endpoint->default_ = std::move(prepared);
  return endpoint;
}

absl::StatusOr<std::shared_ptr<const PersonaEndpoint::Prepared>> PersonaEndpoint::Prepare(
    const Persona& persona) {
  auto prepared = std::make_shared<Prepared>();
  prepared->persona = persona;
  for (const Reply& reply : persona.replies) {
    if (reply.silence) {
      prepared->replies.emplace_back();
      continue;
    }
    PARLEY_ASSIGN_OR_RETURN(std::vector<int16_t> pcm, tts_->Synthesize(reply.say, persona.voice));
    prepared->replies.push_back(std::move(pcm));
  }
  if (persona.answer == AnswerMode::kVoicemail) {
    PARLEY_ASSIGN_OR_RETURN(prepared->greeting,
                            tts_->Synthesize(persona.voicemail.greeting, persona.voice));
    audio::ToneGenerator beep(persona.voicemail.beep_hz, CallRecording::kRate, 8000);
    prepared->beep =
        beep.Next(static_cast<size_t>(persona.voicemail.beep_ms) * CallRecording::kRate / 1000);
  }
  return std::shared_ptr<const Prepared>(std::move(prepared));
}

absl::Status PersonaEndpoint::SetPersona(const std::string& number, const Persona& persona) {
  PARLEY_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> prepared, Prepare(persona));
  absl::MutexLock lock(&mu_);
  by_number_[number] = std::move(prepared);
  return absl::OkStatus();
}

absl::Status PersonaEndpoint::AddNamedPersona(const Persona& persona) {
  PARLEY_ASSIGN_OR_RETURN(std::shared_ptr<const Prepared> prepared, Prepare(persona));
  absl::MutexLock lock(&mu_);
  by_name_[persona.name] = std::move(prepared);
  return absl::OkStatus();
}

std::shared_ptr<const PersonaEndpoint::Prepared> PersonaEndpoint::PersonaFor(
    const parley::v1::Invite& invite) const {
  absl::MutexLock lock(&mu_);
  if (auto wanted = invite.context().find("persona"); wanted != invite.context().end()) {
    if (auto it = by_name_.find(wanted->second); it != by_name_.end()) return it->second;
  }
  auto it = by_number_.find(invite.to());
  return it != by_number_.end() ? it->second : default_;
}

std::string PersonaEndpoint::PersonaNameFor(const parley::v1::Invite& invite) const {
  return PersonaFor(invite)->persona.name;
}

grpc::Status PersonaEndpoint::Call(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<parley::v1::MediaMessage, parley::v1::MediaMessage>* stream) {
  parley::v1::MediaMessage first;
  if (!stream->Read(&first)) return grpc::Status(grpc::StatusCode::CANCELLED, "no Invite");
  if (!first.has_invite()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be Invite");
  }
  std::shared_ptr<const Prepared> prepared = PersonaFor(first.invite());
  CalleeCall* call;
  int generation;
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::make_unique<CalleeCall>());
    call = calls_.back().get();
    call->invite = first.invite();
    call->invite_time = absl::Now();
    call->persona = prepared->persona.name;
    generation = hangup_generation_;
    ++live_;
  }
  Leg leg(this, call, context, stream, generation, std::move(prepared));
  return leg.Run();
}

std::vector<CalleeCall> PersonaEndpoint::Calls() const {
  absl::MutexLock lock(&mu_);
  std::vector<CalleeCall> out;
  out.reserve(calls_.size());
  for (const auto& c : calls_) out.push_back(*c);
  return out;
}

std::optional<CalleeCall> PersonaEndpoint::Find(const std::string& call_id) const {
  absl::MutexLock lock(&mu_);
  for (auto it = calls_.rbegin(); it != calls_.rend(); ++it) {
    if ((*it)->invite.call_id() == call_id) return **it;
  }
  return std::nullopt;
}

bool PersonaEndpoint::WaitUntil(const std::function<bool(const std::vector<CalleeCall>&)>& done,
                                absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (done(Calls())) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

int PersonaEndpoint::LiveCalls() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

void PersonaEndpoint::HangUpAll() {
  absl::MutexLock lock(&mu_);
  ++hangup_generation_;
}

}  // namespace parley::callee
