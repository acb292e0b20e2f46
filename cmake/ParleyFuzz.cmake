# parley_fuzz(NAME <name> SOURCES <files...> LIBS <targets...> [MAX_TOTAL_TIME s])
#
# One libFuzzer target: <dir>/fuzz/<name>_fuzz.cc defines
#   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
# and its seed corpus lives in <dir>/fuzz/corpus/<name>/ (one input per file; committed inputs
# that once crashed stay there as regression seeds).
#
# Two ways a target is built, depending on PARLEY_FUZZ:
#   - PARLEY_FUZZ=ON (clang only; scripts/test configures build-fuzz/ with it): the whole tree is
#     compiled with -fsanitize=fuzzer-no-link,address,undefined and the target links libFuzzer.
#     CTest test `fuzz_<name>` (label `fuzz`) fuzzes for MAX_TOTAL_TIME seconds (default
#     PARLEY_FUZZ_SECONDS, 20) starting from the seeds, in a scratch corpus under the build dir.
#     Build every fuzzer with `cmake --build build-fuzz --target parley_fuzzers`.
#   - otherwise: the target links a small replay driver (cmake/fuzz_replay_main.cc) instead of
#     libFuzzer, and CTest test `fuzz_<name>_replay` (label `unit`) runs every seed once. So
#     every ordinary build (and the ASan build) re-checks the corpus, crashers included.
#
# Usage (a CMakeLists.txt beside the code under test):
#   parley_fuzz(NAME phone_normalize SOURCES fuzz/phone_normalize_fuzz.cc LIBS parley_phone)
set(PARLEY_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzz_<name> CTest test fuzzes for")

if(NOT TARGET parley_fuzzers)
  add_custom_target(parley_fuzzers)
endif()

function(parley_fuzz)
  cmake_parse_arguments(F "" "NAME;MAX_TOTAL_TIME" "SOURCES;LIBS" ${ARGN})
  if(NOT F_MAX_TOTAL_TIME)
    set(F_MAX_TOTAL_TIME ${PARLEY_FUZZ_SECONDS})
  endif()
  set(exe ${F_NAME}_fuzz)
  set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${F_NAME})
  if(PARLEY_FUZZ)
    add_executable(${exe} ${F_SOURCES})
    target_link_libraries(${exe} PRIVATE ${F_LIBS})
    target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
    add_dependencies(parley_fuzzers ${exe})
    # New inputs go to a scratch directory (listed first, so libFuzzer writes there), never into
    # the committed seeds; a crash leaves crash-<sha1> in the test's working directory.
    set(work ${CMAKE_BINARY_DIR}/fuzz-work/${F_NAME})
    file(MAKE_DIRECTORY ${work}/corpus)
    add_test(NAME fuzz_${F_NAME}
      COMMAND ${exe} -max_total_time=${F_MAX_TOTAL_TIME} -timeout=25 -rss_limit_mb=2048
              -print_final_stats=1 -artifact_prefix=${work}/ ${work}/corpus ${corpus}
      WORKING_DIRECTORY ${work})
    math(EXPR timeout "${F_MAX_TOTAL_TIME} + 120")
    set_tests_properties(fuzz_${F_NAME} PROPERTIES LABELS fuzz TIMEOUT ${timeout})
  else()
    add_executable(${exe} ${F_SOURCES} ${PROJECT_SOURCE_DIR}/cmake/fuzz_replay_main.cc)
    target_link_libraries(${exe} PRIVATE ${F_LIBS})
    add_test(NAME fuzz_${F_NAME}_replay COMMAND ${exe} ${corpus})
    if(TARGET parley_tests_unit)
      add_dependencies(parley_tests_unit ${exe})
    endif()
    set_tests_properties(fuzz_${F_NAME}_replay PROPERTIES LABELS unit TIMEOUT 120)
  endif()
endfunction()
