#include "services/worker/voice/engine_dialogue.h"

#include "common/json/struct_convert.h"
#include "common/status/status.h"
#include "services/worker/engine/conversation_engine.h"

namespace parley::worker {
namespace {

class EngineDialogue final : public Dialogue {
 public:
  EngineDialogue(std::unique_ptr<engine::ConversationEngine> engine,
                 std::shared_ptr<speech::LanguageModel> llm)
      : engine_(std::move(engine)), llm_(std::move(llm)) {}

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
  engine::EngineHooks hooks{
      .update_state =
          [recorder, call_id, attempt](const nlohmann::json& patch) {
            return recorder->UpdateState(call_id, attempt, patch);
          },
      .event =
          [event](std::string_view type, const engine::EventDetail& detail) {
            if (event) event(std::string(type), detail);
          },
  };
  PARLEY_ASSIGN_OR_RETURN(
      std::unique_ptr<engine::ConversationEngine> engine,
      engine::ConversationEngine::Create(*context.config, std::move(call_context),
                                         json::StructToJson(context.state), llm.get(),
                                         std::move(hooks), {.call_id = call_id}));
  return std::unique_ptr<Dialogue>(
      std::make_unique<EngineDialogue>(std::move(engine), std::move(llm)));
}

}  // namespace parley::worker
