#!/bin/sh
# `date` on a virtual rig: the real one, shifted by /etc/fleetlab-rig/clock-offset seconds (the clock_forward and
# clock_back faults set it) — a rig whose clock jumped, as after NTP catches up or with a dead RTC battery.
offset=$(cat /etc/fleetlab-rig/clock-offset 2>/dev/null || echo 0)
case " $* " in
  *" -d"*|*" --date"*|*" -s"*|*" --set"*|*" -r"*) exec /bin/date "$@" ;;
esac
exec /bin/date -d "@$(( $(/bin/date +%s) + offset ))" "$@"
