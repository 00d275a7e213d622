# PMOVES install wizard for Windows (bundle staged by `pmoves mini bootstrap`).
$ErrorActionPreference = 'Stop'
$here = Resolve-Path (Join-Path $PSScriptRoot '..\..')
$manifest = if ($env:PMOVES_MANIFEST) { $env:PMOVES_MANIFEST } else { Join-Path $here 'pmoves.mini.yaml' }
if (-not (Get-Command pmoves -ErrorAction SilentlyContinue)) {
  if (Get-Command npm -ErrorAction SilentlyContinue) { npm install -g pmoves-mini }
  else { Write-Error 'Install Node.js 20.19+ and npm first (https://nodejs.org), then run this wizard again.'; exit 1 }
}
pmoves mini deps check
if (-not (Test-Path $manifest)) { Write-Error "No manifest at ${manifest}: copy your pmoves.mini.yaml there (or set PMOVES_MANIFEST)."; exit 1 }
pmoves mini plan -m $manifest
pmoves mini apply -m $manifest
