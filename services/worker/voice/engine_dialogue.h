// The conversation engine (services/worker/engine) as the voice pipeline's Dialogue: the graph
// walked with the scripted policy or a language model, state patches written through the
// ConversationRecorder, node and tool events on the call.
//
//   VoicePipelineFactory factory({.providers = &registry, .recorder = &recorder,
//                                 .dialogues = MakeEngineDialogue});
#pragma once

#include "services/worker/voice/voice_pipeline.h"

namespace parley::worker {

// A DialogueMaker: the engine for the call in `context` (its context, its conversation state
// from the state service, the runtime config). Fails like ConversationEngine::Create.
absl::StatusOr<std::unique_ptr<Dialogue>> MakeEngineDialogue(
    const PipelineContext& context, const parley::v1::TemplateSpec& spec,
    std::shared_ptr<speech::LanguageModel> llm, ConversationRecorder* recorder,
    std::function<void(std::string, std::map<std::string, std::string>)> event);

}  // namespace parley::worker
