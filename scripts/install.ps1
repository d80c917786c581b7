# Install onramp into a user directory (default %LOCALAPPDATA%\onramp\bin) from a release archive,
# after checking its SHA-256 against the release's checksum file (SHA256SUMS). Windows; never
# needs Administrator. scripts/install.sh is the same, step for step, for Linux, macOS and WSL.
#
#   powershell -ExecutionPolicy Bypass -File install.ps1 [-Dir DIR] [-Version V] [-Base URL] [-DryRun]
#   powershell -ExecutionPolicy Bypass -File install.ps1 -Archive onramp-V-TRIPLE.zip [-Sha256 FILE]
#
# Environment: ONRAMP_INSTALL_BASE, ONRAMP_INSTALL_DIR, ONRAMP_VERSION, ONRAMP_INSTALL_TARGET.
[CmdletBinding()]
param(
    [string]$Dir = $env:ONRAMP_INSTALL_DIR,
    [string]$Version = $env:ONRAMP_VERSION,
    [string]$Base = $env:ONRAMP_INSTALL_BASE,
    [string]$Archive = '',
    [string]$Sha256 = '',
    [string]$Target = $env:ONRAMP_INSTALL_TARGET,
    [switch]$DryRun
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2

# The project's release location: a placeholder until releases are published.
$DefaultBase = 'https://onramp.invalid/releases/latest/download'

function Say([string]$Text) { Write-Output "onramp-install: $Text" }
function Die([string]$What, [string]$Help = '') {
    [Console]::Error.WriteLine("onramp-install: error: $What")
    if ($Help) { [Console]::Error.WriteLine("  help: $Help") }
    exit 1
}

# Step 1: platform and architecture -> target triple.
if ($PSVersionTable.PSVersion.Major -ge 6 -and -not $IsWindows) {
    Die 'this is not Windows' 'run scripts/install.sh instead'
}
$arch = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
switch ($arch) {
    'AMD64' { $detected = 'x86_64-pc-windows-msvc' }
    'ARM64' { $detected = 'aarch64-pc-windows-msvc' }
    default { Die "no onramp release for the CPU architecture $arch" 'build it from source: cargo install --path . (in a clone of onramp)' }
}
if (-not $Target) { $Target = $detected }
if (-not $Dir) { $Dir = Join-Path $env:LOCALAPPDATA 'onramp\bin' }
$Dir = [IO.Path]::GetFullPath($Dir)
$Dest = Join-Path $Dir 'onramp.exe'
if (Test-Path -LiteralPath $Dest -PathType Container) { Die "$Dest is a directory" 'remove it, or install elsewhere with -Dir DIR' }

function Test-Name([string]$Name) {
    if ($Name -notlike "onramp-*-$Target.zip") {
        Die "$Name is not an onramp archive for this machine ($Target)" "use onramp-VERSION-$Target.zip, or pass -Target TRIPLE if you know it runs here"
    }
}

# Plain http only to this machine: the checksum comes from the same place.
function Get-File([string]$Url, [string]$Out) {
    if ($Url -notmatch '^(https://|file://|http://(127\.0\.0\.1|localhost)[:/])') {
        Die "refusing to download $Url (https:// only)" 'use an https:// release location'
    }
    try {
        [Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
        Invoke-WebRequest -UseBasicParsing -Uri $Url -OutFile $Out
    } catch {
        Die "cannot download ${Url}: $($_.Exception.Message)" 'check the release location (-Base, ONRAMP_INSTALL_BASE) and the network, or download the archive and SHA256SUMS yourself and use -Archive FILE'
    }
}

# The hash SUMS gives for NAME (sha256sum's format, `*` allowed), or the only hash in a one-hash file.
function Get-ExpectedSum([string]$Sums, [string]$Name) {
    $lines = @(Get-Content -LiteralPath $Sums | Where-Object { $_.Trim() })
    foreach ($line in $lines) {
        $f = $line.Trim() -split '\s+', 2
        if ($f.Count -eq 2 -and $f[1].TrimStart('*') -eq $Name) { return $f[0].ToLowerInvariant() }
    }
    if ($lines.Count -eq 1 -and ($lines[0].Trim() -split '\s+').Count -eq 1) { return $lines[0].Trim().ToLowerInvariant() }
    return ''
}

# Step 2: the archive and its checksum file, local or from the release location.
$Name = ''
if ($Archive) {
    if (-not (Test-Path -LiteralPath $Archive -PathType Leaf)) { Die "no archive at $Archive" "give the path of an onramp-VERSION-$Target.zip" }
    $Archive = (Resolve-Path -LiteralPath $Archive).Path
    $Name = Split-Path -Leaf $Archive
    Test-Name $Name
    if (-not $Sha256) {
        $beside = Join-Path (Split-Path -Parent $Archive) 'SHA256SUMS'
        if (Test-Path -LiteralPath $beside) { $Sha256 = $beside }
        elseif (Test-Path -LiteralPath "$Archive.sha256") { $Sha256 = "$Archive.sha256" }
        else { Die "no checksum file for $Archive (looked for SHA256SUMS beside it and $Name.sha256)" 'put the release''s SHA256SUMS beside the archive, or pass -Sha256 FILE' }
    }
    if (-not (Test-Path -LiteralPath $Sha256 -PathType Leaf)) { Die "no checksum file at $Sha256" 'pass the release''s SHA256SUMS with -Sha256 FILE' }
    $SourceText = "$Archive (checksum from $Sha256)"
} else {
    if (-not $Base) { $Base = $DefaultBase }
    if ($Base -match '\.invalid(/|$)') {
        Die 'no release location is configured in this copy of the installer' 'set ONRAMP_INSTALL_BASE=URL (or -Base URL) to where the release''s archives and SHA256SUMS are, or use -Archive FILE'
    }
    $Base = $Base.TrimEnd('/')
    if ($Version) { $Name = "onramp-$Version-$Target.zip"; Test-Name $Name }
    $shown = if ($Name) { $Name } else { "onramp-VERSION-$Target.zip" }
    $SourceText = "$Base/$shown (checksum from $Base/SHA256SUMS)"
}

Say "platform: Windows $arch -> $Target"
Say "archive:  $SourceText"
if (Test-Path -LiteralPath $Dest) { Say "install:  $Dest (replacing $(& $Dest --version 2>$null))" } else { Say "install:  $Dest" }

if ($DryRun) {
    if ($Archive) {
        $want = Get-ExpectedSum $Sha256 $Name
        if (-not $want) { Die "$Sha256 has no checksum for $Name" 'use the SHA256SUMS published with this archive' }
        if ((Get-FileHash -Algorithm SHA256 -LiteralPath $Archive).Hash.ToLowerInvariant() -ne $want) {
            Die "checksum mismatch for ${Archive}: the file is corrupt or was tampered with" 'download it again from the release; nothing was installed'
        }
        Say "checksum: ok ($want)"
    }
    Say 'dry run: nothing was downloaded, written or changed'
    exit 0
}

$tmp = Join-Path ([IO.Path]::GetTempPath()) ('onramp-install.' + [guid]::NewGuid().ToString('N'))
$staged = ''
New-Item -ItemType Directory -Path $tmp | Out-Null
try {
    if (-not $Archive) {
        $Sha256 = Join-Path $tmp 'SHA256SUMS'
        Get-File "$Base/SHA256SUMS" $Sha256
        if (-not $Name) {
            $names = @(Get-Content -LiteralPath $Sha256 | ForEach-Object { (($_.Trim() -split '\s+', 2)[-1]).TrimStart('*') } |
                Where-Object { $_ -like "onramp-*-$Target.zip" } | Sort-Object { [version](($_ -replace "^onramp-|-$([regex]::Escape($Target))\.zip$", '') -replace '-.*$', '') })
            if (-not $names) { Die "the release at $Base has no archive for $Target" 'build from source: cargo install --path . (in a clone of onramp), or pip install onramp' }
            $Name = $names[-1]
        }
        $Archive = Join-Path $tmp $Name
        Get-File "$Base/$Name" $Archive
    }

    # Step 3: verify the SHA-256 before anything is unpacked or installed.
    $want = Get-ExpectedSum $Sha256 $Name
    if (-not $want) { Die "$Sha256 has no checksum for $Name" 'use the SHA256SUMS published with this archive' }
    $got = (Get-FileHash -Algorithm SHA256 -LiteralPath $Archive).Hash.ToLowerInvariant()
    if ($got -ne $want) {
        Die "checksum mismatch for ${Name}: expected $want, got $got; the file is corrupt or was tampered with" 'download it again from the release; nothing was installed'
    }
    Say "checksum: ok ($got)"

    # Step 4: unpack and check that the binary runs here.
    $unpacked = Join-Path $tmp 'unpacked'
    try { Expand-Archive -LiteralPath $Archive -DestinationPath $unpacked } catch { Die "cannot unpack $Name" 'download it again from the release' }
    $bin = Join-Path $unpacked (Join-Path ($Name -replace '\.zip$', '') 'onramp.exe')
    if (-not (Test-Path -LiteralPath $bin)) { $bin = Join-Path $unpacked 'onramp.exe' }
    if (-not (Test-Path -LiteralPath $bin)) { Die "$Name holds no onramp.exe" 'use an archive made for Windows by the release build' }
    $newVersion = & $bin --version 2>$null
    if ($LASTEXITCODE -ne 0) { Die "the onramp.exe in $Name does not run on this machine (Windows $arch)" "use the archive for $detected, or build from source: cargo install --path ." }

    # Step 5: install atomically: a temporary file in the same directory, then replace.
    try { New-Item -ItemType Directory -Force -Path $Dir | Out-Null } catch { Die "cannot create $Dir" 'pick a directory you can write with -Dir DIR (no Administrator needed)' }
    $staged = Join-Path $Dir ('.onramp.' + [guid]::NewGuid().ToString('N') + '.exe')
    try { Copy-Item -LiteralPath $bin -Destination $staged } catch { Die "cannot write in $Dir" 'pick a directory you can write with -Dir DIR (no Administrator needed)' }
    try {
        if (Test-Path -LiteralPath $Dest) { [IO.File]::Replace($staged, $Dest, $null) } else { [IO.File]::Move($staged, $Dest) }
    } catch {
        Die "cannot replace ${Dest}: $($_.Exception.Message)" 'close every running onramp (Windows keeps a running .exe locked) and run this again'
    }
    $staged = ''
    Say "installed $newVersion at $Dest"
} finally {
    if ($staged) { Remove-Item -LiteralPath $staged -Force -ErrorAction SilentlyContinue }
    Remove-Item -LiteralPath $tmp -Recurse -Force -ErrorAction SilentlyContinue
}

# Step 6: PATH. The running shell cannot be changed from here: say what to run.
$userPath = [Environment]::GetEnvironmentVariable('Path', 'User')
if (@(($userPath -split ';') + ($env:Path -split ';')) -contains $Dir) {
    $found = Get-Command onramp -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($found -and $found.Source -ne $Dest) { Say "note: $($found.Source) comes before $Dest on PATH; remove it or move $Dir earlier" }
} else {
    Say "$Dir is not on your PATH. Add it for your user, then open a new terminal:"
    Write-Output ("  PowerShell: [Environment]::SetEnvironmentVariable('Path', '{0};' + [Environment]::GetEnvironmentVariable('Path', 'User'), 'User')" -f $Dir)
    Write-Output ('  this terminal only: $env:Path = "{0};$env:Path"' -f $Dir)
}
