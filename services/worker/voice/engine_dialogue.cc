#include "services/worker/voice/engine_dialogue.h"

#include "common/json/struct_convert.h"
#include "common/log/log.h"
#include "common/status/status.h"
#include "services/worker/engine/conversation_engine.h"

namespace parley::worker {
namespace {

// What the engine changed during a turn, written by Persist once the turn's audio is queued.
struct PendingWrites {
  std::vector<nlohmann::json> patches;
  std::vector<std::pair<std::string, engine::EventDetail>> events;
};

class EngineDialogue final : public Dialogue {
 public:
  EngineDialogue(std::unique_ptr<engine::ConversationEngine> engine,
                 std::shared_ptr<speech::LanguageModel> llm, std::shared_ptr<PendingWrites> pending,
                 ConversationRecorder* recorder, std::string call_id, int attempt,
                 std::function<void(std::string, std::map<std::string, std::string>)> event)
      : engine_(std::move(engine)),
        llm_(std::move(llm)),
        pending_(std::move(pending)),
        recorder_(recorder),
        call_id_(std::move(call_id)),
        attempt_(attempt),
        event_(std::move(event)) {}

  void Persist() override {
    // Patches in order: each is a deep merge over the previous ones.
    for (const nlohmann::json& patch : pending_->patches) {
      absl::Status status = recorder_->UpdateState(call_id_, attempt_, patch);
      if (!status.ok()) {
        log::Warn("state patch not written", {{"call_id", call_id_}, {"error", status.ToString()}});
        if (event_) event_("error", {{"what", "update_state"}, {"error", status.ToString()}});
      }
    }
    pending_->patches.clear();
    for (auto& [type, detail] : pending_->events) {
      if (event_) event_(type, std::move(detail));
    }
    pending_->events.clear();
  }

  absl::StatusOr<DialogueTurn> Start(absl::FunctionRef<void(std::string_view)> say) override {
    return Convert(engine_->Start(say));
  }
  absl::StatusOr<DialogueTurn> Reply(std::string_view text,
                                     absl::FunctionRef<void(std::string_view)> say,
                                     const speech::CancelFlag* cancel) override {
    PARLEY_ASSIGN_OR_RETURN(engine::TurnOutput out, engine_->OnUserTurn(text, say, cancel));
    return Convert(out);
  }
  void Interrupted(std::string_view heard) override { engine_->OnInterrupted(heard); }
  std::vector<std::string> ExpectedPhrases() override { return engine_->ExpectedPhrases(); }
  std::string current_node() override { return engine_->current_node(); }
  std::string NudgeText() override {
    std::string text = engine_->NudgeText();
    engine_->RecordAgentText(text);
    return text;
  }
  std::string GoodbyeText(std::string_view reason) override {
    std::string text;
    if (reason == "max_duration") {
      text = "I'm sorry, we've run out of time for this call. Thank you, and goodbye!";
    } else if (reason == "silence_timeout") {
      text = "It seems this isn't a good time. We'll try again later. Goodbye!";
    } else if (reason == "error") {
      text = "I'm sorry, I'm having technical difficulties. We'll call you back. Goodbye!";
    } else {
      text = engine_->GoodbyeText();
    }
    engine_->RecordAgentText(text);
    return text;
  }
  std::string Summary() override {
    return llm_ != nullptr ? engine_->SummarizeWithLlm() : engine_->Summary();
  }

 private:
  static DialogueTurn Convert(const engine::TurnOutput& out) {
    return DialogueTurn{.end_call = out.end_call,
                        .outcome = parley::v1::CALL_STATUS_COMPLETED,
                        .ended_reason = out.ended_reason,
                        .opt_out = out.opt_out,
                        .transfer_to = out.transfer_to,
                        .node = out.node,
                        .llm_first_token = out.llm_first_token};
  }

  std::unique_ptr<engine::ConversationEngine> engine_;
  std::shared_ptr<speech::LanguageModel> llm_;
  std::shared_ptr<PendingWrites> pending_;
  ConversationRecorder* const recorder_;
  const std::string call_id_;
  const int attempt_;
  const std::function<void(std::string, std::map<std::string, std::string>)> event_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Dialogue>> MakeEngineDialogue(
    const PipelineContext& context, const parley::v1::TemplateSpec& spec,
    std::shared_ptr<speech::LanguageModel> llm, ConversationRecorder* recorder,
    std::function<void(std::string, std::map<std::string, std::string>)> event) {
  (void)spec;
  nlohmann::json call_context = nlohmann::json::parse(context.call->context_json, nullptr, false);
  if (!call_context.is_object()) call_context = nlohmann::json::object();
  const std::string call_id = context.call->call_id;
  const int attempt = context.call->attempt;
  // The engine's writes wait for Persist (the pipeline calls it once a turn's audio is queued).
  auto pending = std::make_shared<PendingWrites>();
  engine::EngineHooks hooks{
      .update_state =
          [pending](const nlohmann::json& patch) {
            pending->patches.push_back(patch);
            return absl::OkStatus();
          },
      .event =
          [pending](std::string_view type, const engine::EventDetail& detail) {
            pending->events.emplace_back(std::string(type), detail);
          },
  };
  std::unique_ptr<engine::ConversationEngine> engine;
  if (context.shared_config != nullptr && context.shared_config.get() == context.config) {
    // Calls of one config share its graph model (a few tens of KiB per call otherwise).
    PARLEY_ASSIGN_OR_RETURN(std::shared_ptr<const engine::GraphModel> model,
                            engine::SharedGraphModel(context.shared_config));
    engine = engine::ConversationEngine::Create(std::move(model), std::move(call_context),
                                                json::StructToJson(context.state), llm.get(),
                                                std::move(hooks), {.call_id = call_id});
  } else {
    PARLEY_ASSIGN_OR_RETURN(
        engine, engine::ConversationEngine::Create(*context.config, std::move(call_context),
                                                   json::StructToJson(context.state), llm.get(),
                                                   std::move(hooks), {.call_id = call_id}));
  }
  return std::unique_ptr<Dialogue>(
      std::make_unique<EngineDialogue>(std::move(engine), std::move(llm), std::move(pending),
                                       recorder, call_id, attempt, std::move(event)));
}

}  // namespace parley::worker
