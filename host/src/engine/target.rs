//! The machines a `.cwasm` is compiled for: Lambda's two architectures, each
//! with a stated baseline of CPU features that every Lambda host of that
//! architecture has, so a precompiled module loads wherever Lambda runs it.
//!
//! Wasmtime compiling for the build machine enables every feature that
//! machine has (AVX-512 on a recent Xeon); such a `.cwasm` is refused on a
//! Lambda host without them, and an interpreter's would then have to be
//! compiled at init (minutes, past Lambda's 10 s init limit). So
//! `compile --portable` and `package` compile for the [`Arch`]'s baseline
//! instead: x86-64-v3 (AVX2, which Lambda documents for x86_64) and
//! Graviton2's Neoverse N1 (Armv8.2-A with LSE atomics, FP16 and dot product).

use std::fmt;
use std::str::FromStr;

use wasmtime::Engine;

/// One of Lambda's instruction set architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// `x86_64` (Lambda's default).
    X86_64,
    /// `arm64` (Graviton).
    Arm64,
}

/// One CPU feature of a baseline: its Cranelift setting (what the compiler
/// may use) and its name in Rust's feature detection (what wasmtime checks
/// at load, see `Config::detect_host_feature`).
struct Feature {
    cranelift: &'static str,
    detected_as: &'static str,
}

const fn feature(cranelift: &'static str, detected_as: &'static str) -> Feature {
    Feature {
        cranelift,
        detected_as,
    }
}

/// x86-64-v3: the features of Haswell and later, AVX2 included.
const X86_64_V3: &[Feature] = &[
    feature("has_sse3", "sse3"),
    feature("has_ssse3", "ssse3"),
    feature("has_sse41", "sse4.1"),
    feature("has_sse42", "sse4.2"),
    feature("has_popcnt", "popcnt"),
    feature("has_cmpxchg16b", "cmpxchg16b"),
    feature("has_avx", "avx"),
    feature("has_avx2", "avx2"),
    feature("has_fma", "fma"),
    feature("has_bmi1", "bmi1"),
    feature("has_bmi2", "bmi2"),
    feature("has_lzcnt", "lzcnt"),
];

/// Neoverse N1 (Graviton2, Armv8.2-A): LSE atomics, FP16 and dot product;
/// no pointer authentication (Armv8.3) or int8 matrix multiply (Armv8.6).
const NEOVERSE_N1: &[Feature] = &[
    feature("has_lse", "lse"),
    feature("has_fp16", "fp16"),
    feature("has_dotprod", "dotprod"),
];

impl Arch {
    /// Every architecture, in the order the CLI lists them.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Arm64];

    /// The architecture this program runs on, if Lambda has it.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// Lambda's name for it (`--architectures`).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The target triple of a Lambda host of this architecture.
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The stated baseline, in words (for messages and docs).
    pub fn baseline_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86-64-v3 (AVX2)",
            Arch::Arm64 => "Neoverse N1 (Graviton2, Armv8.2-A)",
        }
    }

    /// The ELF `e_machine` of its executables and `.cwasm` files.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Arm64 => 183,
        }
    }

    fn baseline(self) -> &'static [Feature] {
        match self {
            Arch::X86_64 => X86_64_V3,
            Arch::Arm64 => NEOVERSE_N1,
        }
    }

    /// An engine with the host's settings ([`super::base_config`]) that
    /// compiles for this architecture's baseline, never the build machine's
    /// own features. It can run modules only when `self` is the host's
    /// architecture; for another it only precompiles.
    pub fn compiling_engine(self) -> wasmtime::Result<Engine> {
        Engine::new(&self.baseline_config()?)
    }

    /// A [`compiling_engine`](Self::compiling_engine) that also accepts only
    /// code needing no more than the baseline, as a Lambda host with nothing
    /// beyond it would, whatever this machine has (for checking a `.cwasm`).
    pub fn baseline_host_engine(self) -> wasmtime::Result<Engine> {
        let detect: fn(&str) -> Option<bool> = match self {
            Arch::X86_64 => |name| Some(in_baseline(X86_64_V3, name)),
            Arch::Arm64 => |name| Some(in_baseline(NEOVERSE_N1, name)),
        };
        let mut config = self.baseline_config()?;
        // SAFETY: the engine may claim fewer features than the CPU has, never
        // more: each baseline feature is one every Lambda host of the
        // architecture has, and code checked with it runs on such a host.
        unsafe {
            config.detect_host_feature(detect);
        }
        Engine::new(&config)
    }

    /// The host's settings, for this architecture's baseline.
    fn baseline_config(self) -> wasmtime::Result<wasmtime::Config> {
        let mut config = super::base_config();
        config.target(self.triple())?;
        for feature in self.baseline() {
            // SAFETY: these settings only choose instructions; wasmtime checks
            // at load that the host running the code has each of them.
            unsafe {
                config.cranelift_flag_enable(feature.cranelift);
            }
        }
        Ok(config)
    }
}

fn in_baseline(baseline: &[Feature], name: &str) -> bool {
    baseline.iter().any(|feature| feature.detected_as == name)
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lambda_name())
    }
}

impl FromStr for Arch {
    type Err = String;

    /// Lambda's names, and the Rust names (`aarch64`) people also type.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "x86_64" | "x86-64" | "amd64" => Ok(Arch::X86_64),
            "arm64" | "aarch64" => Ok(Arch::Arm64),
            _ => Err(format!(
                "{text:?} is not a Lambda architecture: use x86_64 or arm64"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn precompiled(arch: Arch) -> Vec<u8> {
        let wasm = wat::parse_str(
            r#"(module (func (export "f") (param i32) (result i32)
                 local.get 0 i32.popcnt))"#,
        )
        .unwrap();
        arch.compiling_engine()
            .unwrap()
            .precompile_module(&wasm)
            .unwrap()
    }

    #[test]
    fn a_host_cwasm_loads_on_the_baseline_and_in_the_bootstrap() {
        let Some(arch) = Arch::host() else { return };
        let cwasm = precompiled(arch);
        for engine in [
            arch.baseline_host_engine().unwrap(),
            super::super::new_engine().unwrap(),
        ] {
            // SAFETY: compiled just now by this wasmtime.
            let module = unsafe { wasmtime::Module::deserialize(&engine, &cwasm) };
            assert!(module.is_ok(), "{:?}", module.err());
        }
    }

    #[test]
    fn native_code_with_more_than_the_baseline_is_refused_by_it() {
        let Some(arch) = Arch::host() else { return };
        let wasm = wat::parse_str("(module)").unwrap();
        let native = super::super::new_engine()
            .unwrap()
            .precompile_module(&wasm)
            .unwrap();
        let beyond = match arch {
            Arch::X86_64 => std::is_x86_feature_detected!("avx512f"),
            Arch::Arm64 => false,
        };
        // SAFETY: compiled just now by this wasmtime.
        let loaded = unsafe {
            wasmtime::Module::deserialize(&arch.baseline_host_engine().unwrap(), &native)
        };
        assert_eq!(loaded.is_err(), beyond, "{:?}", loaded.err());
    }

    #[test]
    fn cross_compiles_for_the_other_architecture() {
        for arch in Arch::ALL {
            let cwasm = precompiled(arch);
            assert_eq!(&cwasm[..4], b"\x7fELF");
            let machine = u16::from_le_bytes([cwasm[18], cwasm[19]]);
            assert_eq!(machine, arch.elf_machine(), "{arch}");
        }
    }

    #[test]
    fn parses_lambda_names_and_refuses_others() {
        assert_eq!("arm64".parse::<Arch>(), Ok(Arch::Arm64));
        assert_eq!("aarch64".parse::<Arch>(), Ok(Arch::Arm64));
        assert_eq!("x86_64".parse::<Arch>(), Ok(Arch::X86_64));
        let error = "riscv64".parse::<Arch>().unwrap_err();
        assert!(error.contains("use x86_64 or arm64"), "{error}");
    }
}
