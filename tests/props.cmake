# Per-test settings, read by tests/CMakeLists.txt before the tests are added.
#   GCRT_TEST_ENV_<name>      "VAR=value;VAR2=value" added to the test's environment
#   GCRT_TEST_TIMEOUT_<name>  seconds (defaults: unit 60, integration 300, stress 600)
#   GCRT_TEST_ARGS_<name>     command-line arguments
#   GCRT_TEST_LIBS_<name>     extra libraries to link
#   GCRT_TEST_LABELS_<name>   extra labels; "tsan" puts the test in the TSan run
#                             of tools/test.sh (the concurrent tests)
set(GCRT_TEST_LABELS_test_malloc tsan)
set(GCRT_TEST_LIBS_test_proto gcrt_proto ZLIB::ZLIB)
