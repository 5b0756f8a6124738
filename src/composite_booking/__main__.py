from composite_booking.cli import main

raise SystemExit(main())
