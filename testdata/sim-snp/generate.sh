#!/usr/bin/env bash
# Generates the TEST ONLY simulated SEV-SNP platform of this directory (README.md): a test ARK / ASK /
# VCEK chain shaped like AMD's (RSA-PSS SHA-384, salt 48, MGF1 SHA-384; the VCEK carries AMD's
# extensions) and CRLs signed by the test ARK. Nothing here is AMD's: a verifier trusts it only when
# given ark.der explicitly (`SnpRoots::with_ark`).
#
# Needs OpenSSL 3 (`openssl ca -crl_lastupdate/-crl_nextupdate`). Keys are fresh on every run, so
# re-running changes every file: commit the script and its outputs together.
#
# Usage: testdata/sim-snp/generate.sh   (writes next to itself)
set -euo pipefail

OUT="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# Validity of every certificate and of crl.der: long enough that tests need not pin time.
START=240101000000Z
END=491231235959Z
# hwID of the test chip (= the report's chip_id): 64 fixed bytes, "initra-sim-snp-chip" padded
# with 0x00 to 32 bytes, then bytes 0x20..0x3f. Documented in README.md.
HWID="$(printf 'initra-sim-snp-chip' | xxd -p | tr -d '\n')"
HWID="${HWID}$(printf '00%.0s' $(seq 1 13))"
for i in $(seq 32 63); do HWID="${HWID}$(printf '%02x' "$i")"; done
[ "${#HWID}" -eq 128 ] || { echo "hwID must be 64 bytes" >&2; exit 1; }

# TCB the VCEK certifies: blSPL 3, teeSPL 0, snpSPL 8, ucodeSPL 115 (0x73), as the virtee sample
# (reported_tcb 0300000000000873).
BL=3 TEE=0 SNP=8 UCODE=115

PSS=(-md sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384)
DN_PREFIX="/OU=Engineering/C=US/O=initra TEST ONLY - not AMD"

cat >ca.cnf <<EOF
[ ca ]
default_ca = ca_default

[ ca_default ]
dir = .
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha384
policy = policy_any
preserve = yes
unique_subject = no
email_in_dn = no
copy_extensions = none
crl_extensions = crl_ext

[ policy_any ]
organizationalUnitName = optional
countryName = optional
organizationName = optional
commonName = supplied

[ ark_ext ]
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
basicConstraints = critical, CA:TRUE

[ ask_ext ]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign

# AMD's VCEK extensions, in the order of real VCEKs (AMD 57230 "VCEK Certificate Extensions"):
# structVersion, productName, the SPLs (.3.4-.3.7 reserved, 0), hwID (raw bytes, no DER wrapper).
[ vcek_ext ]
1.3.6.1.4.1.3704.1.1 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.2 = ASN1:IA5STRING:Milan-B0
1.3.6.1.4.1.3704.1.3.1 = ASN1:INTEGER:${BL}
1.3.6.1.4.1.3704.1.3.2 = ASN1:INTEGER:${TEE}
1.3.6.1.4.1.3704.1.3.4 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.5 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.6 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.7 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.3.3 = ASN1:INTEGER:${SNP}
1.3.6.1.4.1.3704.1.3.8 = ASN1:INTEGER:${UCODE}
1.3.6.1.4.1.3704.1.4 = DER:${HWID}
# Real VCEKs have no key identifiers; OpenSSL 3 would add them by default.
subjectKeyIdentifier = none
authorityKeyIdentifier = none

[ crl_ext ]
authorityKeyIdentifier = keyid:always
EOF

fresh_db() {
    rm -rf new index.txt index.txt.attr serial crlnumber
    mkdir new
    : >index.txt
    echo "unique_subject = no" >index.txt.attr
    echo 1000 >crlnumber
}

# issue NAME SUBJECT SERIAL EXT CA_CERT CA_KEY [-selfsign]
issue() {
    local name=$1 subj=$2 serial=$3 ext=$4 ca_cert=$5 ca_key=$6
    shift 6
    fresh_db
    echo "$serial" >serial
    openssl req -new -key "$name.pem.key" -subj "$subj" -out "$name.csr" 2>/dev/null
    local signer=(-cert "$ca_cert")
    # A self-signed certificate has no issuer certificate yet.
    [ "${1:-}" = -selfsign ] && signer=(-selfsign)
    openssl ca -batch -config ca.cnf -notext -in "$name.csr" -out "$name.pem" \
        -startdate "$START" -enddate "$END" -extensions "$ext" \
        "${signer[@]}" -keyfile "$ca_key" "${PSS[@]}" 2>err.txt || { cat err.txt >&2; exit 1; }
}

# crl OUT LASTUPDATE NEXTUPDATE CA_CERT CA_KEY [REVOKED_SERIAL_HEX...]
# The ARK's database is written by hand so that any serial (also the VCEK's, which the ASK issued)
# can be listed.
crl() {
    local out=$1 last=$2 next=$3 ca_cert=$4 ca_key=$5
    shift 5
    fresh_db
    local serial
    for serial in "$@"; do
        printf 'R\t%s\t%s,keyCompromise\t%s\tunknown\t/CN=revoked\n' "$END" "$START" "$serial" >>index.txt
    done
    openssl ca -batch -config ca.cnf -gencrl -cert "$ca_cert" -keyfile "$ca_key" \
        -crl_lastupdate "$last" -crl_nextupdate "$next" "${PSS[@]}" -out "$out.pem" 2>err.txt ||
        { cat err.txt >&2; exit 1; }
    openssl crl -in "$out.pem" -outform der -out "$OUT/$out"
}

# Keys: RSA-4096 ARK and ASK as AMD's; EC P-384 VCEK.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out ark.pem.key 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out ask.pem.key 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out vcek.pem.key 2>/dev/null
# An unrelated key under the ARK's name: signs crl_other_key.der (not kept).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.pem.key 2>/dev/null

# Serials as AMD's Milan chain: ARK 0x10000, ASK 0x10001; VCEK 0 (AMD's VCEKs have serial 0).
issue ark "$DN_PREFIX/CN=ARK-Milan" 010000 ark_ext ark.pem ark.pem.key -selfsign
issue ask "$DN_PREFIX/CN=SEV-Milan" 010001 ask_ext ark.pem ark.pem.key
issue vcek "$DN_PREFIX/CN=SEV-VCEK" 00 vcek_ext ask.pem ask.pem.key
issue other "$DN_PREFIX/CN=ARK-Milan" 010000 ark_ext other.pem other.pem.key -selfsign

openssl x509 -in ark.pem -outform der -out "$OUT/ark.der"
openssl x509 -in ask.pem -outform der -out "$OUT/ask.der"
openssl x509 -in vcek.pem -outform der -out "$OUT/vcek.der"
cat ask.pem ark.pem >"$OUT/cert_chain.pem"
openssl pkcs8 -topk8 -nocrypt -in vcek.pem.key -outform der -out "$OUT/vcek.key"
openssl pkcs8 -topk8 -nocrypt -in ark.pem.key -outform der -out "$OUT/ark.key"

crl crl.der "$START" "$END" ark.pem ark.pem.key
crl crl_ask_revoked.der "$START" "$END" ark.pem ark.pem.key 010001
crl crl_vcek_revoked.der "$START" "$END" ark.pem ark.pem.key 00
crl crl_expired.der "$START" 240201000000Z ark.pem ark.pem.key
crl crl_other_key.der "$START" "$END" other.pem other.pem.key

# Self-checks: the chain verifies, the CRLs verify with the ARK (except the impostor's).
openssl verify -x509_strict -CAfile ark.pem ask.pem >/dev/null
openssl verify -CAfile ark.pem -untrusted ask.pem vcek.pem >/dev/null
for c in crl.der crl_ask_revoked.der crl_vcek_revoked.der crl_expired.der; do
    openssl crl -inform der -in "$OUT/$c" -CAfile ark.pem -noout 2>&1 | grep -q "verify OK"
done
if openssl crl -inform der -in "$OUT/crl_other_key.der" -CAfile ark.pem -noout 2>&1 | grep -q "verify OK"; then
    echo "crl_other_key.der must not verify with the test ARK" >&2
    exit 1
fi
chmod 0644 "$OUT"/*.der "$OUT"/cert_chain.pem
chmod 0600 "$OUT"/*.key
echo "hwID: $HWID"
echo "wrote $OUT"
