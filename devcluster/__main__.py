from devcluster.localcluster import main

raise SystemExit(main())
