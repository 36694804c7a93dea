"""The operator's command line: `hub up`, `hub status` and the verbs the issues add."""
