#!/usr/bin/env bash
# Builds the webhook parser with libFuzzer and AddressSanitizer, seeds a corpus at run time from the one copy of the
# sample webhooks (Sources/KommoSegmentTesting/Resources/kommo/webhook-*.txt) and fuzzes it.
#
#   Tests/Fuzz/run-parser-fuzzer.sh [SECONDS] [WORKDIR]
#
# SECONDS defaults to 300. WORKDIR (default: a new temporary folder) keeps the build, the growing corpus and any
# crash files; pass the same one again to go on from an earlier run's corpus. Nothing is written into the
# repository. Prints libFuzzer's final statistics; exits non-zero if libFuzzer found a crash, a leak or a timeout.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-300}
work=${2:-$(mktemp -d -t parser-fuzz.XXXXXX)}
mkdir -p "$work/modules" "$work/corpus" "$work/crashes"
flags=(-O -wmo -parse-as-library -swift-version 6 -package-name KommoSegment -sanitize=fuzzer,address -g)

echo "== building in $work"
swiftc "${flags[@]}" -module-name JSONCore -emit-module -emit-module-path "$work/modules/JSONCore.swiftmodule" \
    -c -o "$work/JSONCore.o" "$root"/Sources/JSONCore/*.swift
swiftc "${flags[@]}" -module-name KommoModels -I "$work/modules" -emit-module \
    -emit-module-path "$work/modules/KommoModels.swiftmodule" -c -o "$work/KommoModels.o" \
    $(find "$root/Sources/KommoModels" -name '*.swift' | sort)
swiftc "${flags[@]}" -module-name ParserFuzzTarget -I "$work/modules" -c -o "$work/target.o" \
    "$root/Tests/Fuzz/ParserFuzzTarget.swift"
# gold warns once per AddressSanitizer helper symbol that it cannot export; those lines say nothing about the build.
swiftc -sanitize=fuzzer,address "$work/JSONCore.o" "$work/KommoModels.o" "$work/target.o" -o "$work/parser-fuzzer" \
    2> >(grep -v "Cannot export local symbol" >&2)

echo "== seeding the corpus from the sample webhooks"
for sample in "$root"/Sources/KommoSegmentTesting/Resources/kommo/webhook-*.txt; do
    cp "$sample" "$work/corpus/seed-$(basename "$sample")"
done
# The tokens of Kommo bodies, so that mutations keep the shape of keys.
{
    for token in '&' '=' '[' ']' '%5B' '%5D' '%' '+' '[]' 'account' 'subdomain' 'id' '_links' 'self' 'leads' \
        'contacts' 'status' 'update' 'add' 'delete' 'note' 'type' 'company' 'contact' 'custom_fields' 'values' \
        'value' 'enum' 'tags' 'name' 'linked_leads_id' 'account_id' 'status_id' 'old_status_id' 'price' \
        'updated_at' 'last_modified' '31234567' 'acme' 'globex' '0' '00000000000000000000' '%C3%A9' '%FF'; do
        printf '"%s"\n' "$token"
    done
} > "$work/kommo.dict"

echo "== fuzzing for $seconds s"
log="$work/fuzz-$(date +%s).log"
status=0
"$work/parser-fuzzer" "$work/corpus" -dict="$work/kommo.dict" -max_total_time="$seconds" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/crashes/" -print_final_stats=1 >"$log" 2>&1 || status=$?
grep -E '^(#[0-9]+ +DONE|stat::|Done )' "$log" || tail -20 "$log"
echo "corpus: $(ls "$work/corpus" | wc -l) inputs; findings: $(ls "$work/crashes" | wc -l) files in $work/crashes"
echo "log: $log"
exit "$status"
