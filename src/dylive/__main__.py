from dylive.cli import main

raise SystemExit(main())
