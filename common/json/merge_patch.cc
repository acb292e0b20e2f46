#include "common/json/merge_patch.h"

#include <string>
#include <utility>

#include "common/status/status.h"

namespace parley::json {
namespace {

// nlohmann's parse_error::what() reads "[json.exception.parse_error.101] parse error at line 1,
// column 5: syntax error while parsing value - invalid literal; last read: 'tru,'". Keep the
// position and the reason; drop the exception id and the quoted input.
std::string DescribeParseError(const nlohmann::json::exception& error) {
  std::string what = error.what();
  if (const size_t id_end = what.find("] ");
      what.rfind("[json.exception.", 0) == 0 && id_end != std::string::npos) {
    what.erase(0, id_end + 2);
  }
  if (const size_t last_read = what.find("; last read:"); last_read != std::string::npos) {
    what.erase(last_read);
  }
  return what;
}

}  // namespace

nlohmann::json MergePatch(nlohmann::json target, const nlohmann::json& patch) {
  if (!patch.is_object()) return patch;
  if (!target.is_object()) target = nlohmann::json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(key);
      continue;
    }
    auto it = target.find(key);
    if (it == target.end()) {
      target[key] = MergePatch(nullptr, value);
    } else {
      *it = MergePatch(std::move(*it), value);
    }
  }
  return target;
}

absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text, std::string_view field) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {  // parse_error, or out_of_range (1e999)
    return InvalidField(field, "not valid JSON (" + DescribeParseError(error) + ")");
  }
  if (!parsed.is_object()) return InvalidField(field, "must be a JSON object");
  return parsed;
}

}  // namespace parley::json
