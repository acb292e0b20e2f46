#include "cli/parleyctl/personas.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status/status.h"
#ifdef PARLEY_HAVE_POCKETSPHINX
#include "common/speech/pocketsphinx_stt.h"
#endif

namespace parley::cli {

absl::StatusOr<std::vector<callee::Persona>> LoadPersonaDir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".yaml" || ext == ".yml") files.push_back(entry.path());
  }
  if (ec) return absl::NotFoundError(absl::StrCat(dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  std::vector<callee::Persona> out;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::ostringstream text;
    text << in.rdbuf();
    PARLEY_ASSIGN_OR_RETURN(std::vector<callee::Persona> personas,
                            callee::ParsePersonas(text.str(), file.string()));
    for (callee::Persona& p : personas) out.push_back(std::move(p));
  }
  return out;
}

bool NeedsRecognizer(const std::vector<callee::Persona>& personas) {
  for (const callee::Persona& p : personas) {
    for (const callee::Reply& r : p.replies) {
      if (!r.when.empty()) return true;
    }
  }
  return false;
}

absl::StatusOr<callee::Recognizer> MakeRecognizer() {
#ifdef PARLEY_HAVE_POCKETSPHINX
  PARLEY_ASSIGN_OR_RETURN(std::shared_ptr<speech::PocketsphinxRecognizer> stt,
                          speech::PocketsphinxRecognizer::Create({.preload_language_model = true}));
  PARLEY_RETURN_IF_ERROR(stt->UseLanguageModel());
  auto mu = std::make_shared<absl::Mutex>();
  return callee::Recognizer([stt, mu](std::span<const int16_t> pcm) -> std::string {
    absl::MutexLock lock(mu.get());
    if (!stt->StartUtterance().ok() || !stt->Process(pcm).ok()) return "";
    absl::StatusOr<std::string> text = stt->EndUtterance();
    return text.ok() ? *text : "";
  });
#else
  return absl::UnimplementedError("no speech recogniser in this build (pocketsphinx)");
#endif
}

}  // namespace parley::cli
