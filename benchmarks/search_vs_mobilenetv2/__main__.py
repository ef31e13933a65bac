import sys

from benchmarks.search_vs_mobilenetv2.run import main

sys.exit(main())
