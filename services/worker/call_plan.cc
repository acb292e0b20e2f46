#include "services/worker/call_plan.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/calls/calling_window.h"
#include "common/calls/retry_policy.h"
#include "common/json/struct_convert.h"

namespace parley::worker {
namespace {

int IntAt(const nlohmann::json& object, const char* section, const char* field, int fallback) {
  if (!object.is_object() || !object.contains(section) || !object[section].is_object()) {
    return fallback;
  }
  const nlohmann::json& v = object[section].value(field, nlohmann::json());
  return v.is_number() ? v.get<int>() : fallback;
}

std::string StringAt(const nlohmann::json& object, const char* field) {
  if (!object.is_object() || !object.contains(field) || !object[field].is_string()) return "";
  return object[field].get<std::string>();
}

}  // namespace

CallPlan PlanCall(const calls::CallRecord& call, const parley::v1::RuntimeConfig& config) {
  CallPlan plan;
  nlohmann::json tmpl = json::StructToJson(config.template_());
  plan.ring_timeout = absl::Seconds(IntAt(tmpl, "limits", "ring_timeout_s", 30));
  plan.max_duration = absl::Seconds(IntAt(tmpl, "limits", "max_duration_s", 600));
  nlohmann::json campaign = json::StructToJson(config.campaign());
  if (campaign.contains("max_concurrent_calls") && campaign["max_concurrent_calls"].is_number()) {
    plan.max_concurrent_calls = campaign["max_concurrent_calls"].get<int>();
  }
  plan.from = call.from;
  if (plan.from.empty()) plan.from = StringAt(campaign, "from");
  if (plan.from.empty()) plan.from = StringAt(json::StructToJson(config.agent()), "from");
  nlohmann::json graph = json::StructToJson(config.graph().spec());
  if (graph.contains("durable_keys") && graph["durable_keys"].is_array()) {
    for (const nlohmann::json& k : graph["durable_keys"]) {
      if (k.is_string()) plan.durable_keys.push_back(k.get<std::string>());
    }
  }
  nlohmann::json context = nlohmann::json::parse(call.context_json, nullptr, false);
  if (context.is_object()) {
    for (const auto& [key, value] : context.items()) {
      if (value.is_string()) {
        plan.invite_context[key] = value.get<std::string>();
      } else if (value.is_number() || value.is_boolean()) {
        plan.invite_context[key] = value.dump();
      }
    }
  }
  return plan;
}

bool MayRetry(parley::v1::CallStatus outcome) {
  switch (outcome) {
    case parley::v1::CALL_STATUS_BUSY:
    case parley::v1::CALL_STATUS_NO_ANSWER:
    case parley::v1::CALL_STATUS_DECLINED:
    case parley::v1::CALL_STATUS_VOICEMAIL:
    case parley::v1::CALL_STATUS_FAILED:
      return true;
    default:
      return false;
  }
}

calls::RetryDecision DecideRetry(const calls::CallRecord& call,
                                 const parley::v1::RuntimeConfig* config,
                                 parley::v1::CallStatus outcome, absl::Time now) {
  if (!MayRetry(outcome)) return {};
  nlohmann::json campaign =
      config != nullptr ? json::StructToJson(config->campaign()) : nlohmann::json::object();
  nlohmann::json policy_spec = campaign.value("retry_policy", nlohmann::json::object());
  calls::RetryPolicy policy = calls::RetryPolicy::FromJson(policy_spec, call.max_attempts);
  calls::CallingWindow window = calls::CallingWindow::AlwaysOpen();
  if (campaign.contains("calling_window")) {
    auto parsed = calls::CallingWindow::FromJson(campaign["calling_window"]);
    if (parsed.ok()) window = *std::move(parsed);
  }
  absl::TimeZone zone = calls::ZoneForNumber(call.to, window.time_zone());
  return policy.Decide(outcome, call.attempt, now, window, zone);
}

}  // namespace parley::worker
