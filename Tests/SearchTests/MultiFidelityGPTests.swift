import JSONKit
import XCTest
import Foundation
import Space
@testable import Search

final class MultiFidelityGPTests: XCTestCase {
    /// The score at the target, and a cheap fidelity's bias that depends on the configuration
    /// (it favours large x0, the wrong region).
    static func target(_ x: [Double]) -> Double { sin(6 * x[0]) + x[1] * x[1] }
    static func bias(_ x: [Double]) -> Double { 1.5 * (x[0] - 0.5) }

    static func points(_ n: Int, seed: UInt64) -> [[Double]] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in [g.unit(), g.unit()] }
    }

    func testLogMarginalLikelihoodGradientMatchesFiniteDifferences() throws {
        let x = Self.points(14, seed: 1)
        let z = x.indices.map { [0.0, 1.0, 0.4, 0.75][$0 % 4] }
        let y = zip(x, z).map { Self.target($0) + $1 * $1 * Self.bias($0) }
        for kernel in [GaussianProcess.Kernel.matern52, .rbf] {
            var base = GaussianProcess.Hyperparameters(dimensions: 2, signalVariance: 0.8, noiseVariance: 0.02, mean: 0.1)
            base.logLengthscales = [log(0.3), log(0.7)]
            let h = MultiFidelityGP.Hyperparameters(base: base, biasRatio: 0.4, power: 1.7)
            let (_, grad) = try XCTUnwrap(MultiFidelityGP.logMarginalLikelihood(inputs: x, distances: z, targets: y,
                                                                                hyperparameters: h, kernel: kernel))
            let v = h.vector
            XCTAssertEqual(grad.count, v.count)
            for i in v.indices {
                var p = v, m = v
                p[i] += 1e-5
                m[i] -= 1e-5
                func value(_ w: [Double]) -> Double {
                    MultiFidelityGP.logMarginalLikelihood(inputs: x, distances: z, targets: y, hyperparameters: .init(vector: w),
                                                          kernel: kernel)!.value
                }
                let numeric = (value(p) - value(m)) / 2e-5
                XCTAssertEqual(grad[i], numeric, accuracy: 1e-5 * max(1, abs(numeric)), "\(kernel) θ[\(i)]")
            }
        }
    }

    /// With a noise per fidelity (log ρ last in the vector), every gradient entry, ρ's included,
    /// matches finite differences; and the prior's gradient matches its own.
    func testGradientWithANoisePerFidelityMatchesFiniteDifferences() throws {
        let x = Self.points(14, seed: 2)
        let z = x.indices.map { [0.0, 1.0, 0.4, 0.75][$0 % 4] }
        let y = zip(x, z).map { Self.target($0) + $1 * $1 * Self.bias($0) }
        var base = GaussianProcess.Hyperparameters(dimensions: 2, signalVariance: 0.8, noiseVariance: 0.02, mean: 0.1)
        base.logLengthscales = [log(0.3), log(0.7)]
        let h = MultiFidelityGP.Hyperparameters(base: base, biasRatio: 0.4, power: 1.7, cheapNoiseRatio: 3)
        let (_, grad) = try XCTUnwrap(MultiFidelityGP.logMarginalLikelihood(inputs: x, distances: z, targets: y, hyperparameters: h))
        let v = h.vector
        XCTAssertEqual(v.count, 2 + 6)
        for i in v.indices {
            var p = v, m = v
            p[i] += 1e-5
            m[i] -= 1e-5
            func value(_ w: [Double]) -> Double {
                MultiFidelityGP.logMarginalLikelihood(inputs: x, distances: z, targets: y, hyperparameters: .init(vector: w, cheapNoise: true))!.value
            }
            let numeric = (value(p) - value(m)) / 2e-5
            XCTAssertEqual(grad[i], numeric, accuracy: 1e-5 * max(1, abs(numeric)), "θ[\(i)]")
            let prior = MultiFidelityGP.logPrior(v, cheapNoise: true).gradient[i]
            let priorNumeric = (MultiFidelityGP.logPrior(p, cheapNoise: true).value - MultiFidelityGP.logPrior(m, cheapNoise: true).value) / 2e-5
            XCTAssertEqual(prior, priorNumeric, accuracy: 1e-6, "prior θ[\(i)]")
        }
        // A cheap run's noise is σₙ²(1 + ρ z): at the cheapest four times the target's.
        XCTAssertEqual(h.noiseVariance(atDistance: 1) / h.noiseVariance(atDistance: 0), 4, accuracy: 1e-12)
    }

    /// Fitted on cheap runs with four times the target runs' noise sd (0.4 against 0.1: 16 times the
    /// variance), the GP with a noise per fidelity finds the cheap noise more than 4 times the target's.
    func testANoisePerFidelityIsLearntFromTheData() throws {
        var g = SplitMix64(seed: 9)
        let x = Self.points(60, seed: 3)
        let z = x.indices.map { $0 % 2 == 0 ? 0.0 : 1.0 }
        let y = zip(x, z).map { Self.target($0) + 0.3 * $1 * Self.bias($0) + ($1 == 0 ? 0.1 : 0.4) * g.normal() }
        let (h, _) = MultiFidelityGP.fit(inputs: x, distances: z, targets: y, seed: 1, cheapNoise: true)
        let ratio = h.noiseVariance(atDistance: 1) / h.noiseVariance(atDistance: 0)
        print(String(format: "noise per fidelity: cheap/target variance %.2f (data: 16)", ratio))
        XCTAssertGreaterThan(ratio, 4)
    }

    /// An observation's worth against the GP conditioned on it (hyperparameters kept; a posterior
    /// variance does not depend on the value observed): the variance measure is the target's
    /// posterior variance before less after, the information measure ½ log(before / after), the
    /// mutual information of two Gaussians. Cheap observations are worth less than the target's,
    /// and with nearly noiseless scores the information measure values the target far above the
    /// variance measure's bound of 1/ρ².
    func testWorthIsWhatConditioningOnTheObservationChanges() throws {
        let x = Self.points(10, seed: 5)
        let z = x.indices.map { [0.0, 0.8][$0 % 2] }
        let y = zip(x, z).map { Self.target($0) + $1 * $1 * Self.bias($0) }
        var base = GaussianProcess.Hyperparameters(dimensions: 2, signalVariance: 1.2, noiseVariance: 1e-4, mean: 0)
        base.logLengthscales = [log(0.3), log(0.6)]
        let h = MultiFidelityGP.Hyperparameters(base: base, biasRatio: 1.5, power: 1.5)
        let gp = try XCTUnwrap(MultiFidelityGP(inputs: x, distances: z, targets: y, hyperparameters: h))
        var ratios: [FidelityWorth: Double] = [:]
        for p in Self.points(4, seed: 6) {
            let before = gp.predict([p]).variance[0]
            var worth: [Double: [FidelityWorth: Double]] = [:]
            for d in [0.0, 0.8] {
                let after = try XCTUnwrap(MultiFidelityGP(inputs: x + [p], distances: z + [d], targets: y + [0.3],
                                                          hyperparameters: h)).predict([p]).variance[0]
                let variance = gp.worth(at: p, distance: d, as: .variance), information = gp.worth(at: p, distance: d, as: .information)
                XCTAssertEqual(variance, before - after, accuracy: 1e-9 * before, "variance at z = \(d)")
                XCTAssertEqual(information, 0.5 * log(before / after), accuracy: 1e-6, "information at z = \(d)")
                worth[d] = [.variance: variance, .information: information]
            }
            for m in FidelityWorth.allCases {
                XCTAssertLessThan(worth[0.8]![m]!, worth[0]![m]!, "\(m): a cheap observation tells less")
                ratios[m] = max(ratios[m] ?? 0, worth[0]![m]! / worth[0.8]![m]!)
            }
        }
        XCTAssertGreaterThan(ratios[.information]!, 2 * ratios[.variance]!, "\(ratios)")

        let single = try XCTUnwrap(GaussianProcess(inputs: x, targets: y, hyperparameters: base))
        let p = [0.4, 0.55]
        let before = single.predict([p]).variance[0]
        let after = try XCTUnwrap(GaussianProcess(inputs: x + [p], targets: y + [0], hyperparameters: base)).predict([p]).variance[0]
        XCTAssertEqual(Surrogate.single(single).worth(at: p, distance: 0, as: .variance), before - after, accuracy: 1e-9 * before)
        XCTAssertEqual(Surrogate.single(single).worth(at: p, distance: 0, as: .information), 0.5 * log(before / after), accuracy: 1e-6)
        XCTAssertEqual(Surrogate.single(single).worth(at: p, distance: 0.8, as: .variance), 0, "a single-fidelity GP ignores cheap runs")
    }

    func testWithAllDataAtTheTargetItIsTheSingleFidelityGP() throws {
        let x = Self.points(12, seed: 2)
        let y = x.map(Self.target)
        var base = GaussianProcess.Hyperparameters(dimensions: 2, signalVariance: 1.3, noiseVariance: 1e-2, mean: 0.2)
        base.logLengthscales = [log(0.25), log(0.9)]
        let h = MultiFidelityGP.Hyperparameters(base: base, biasRatio: 2, power: 1.5)
        let zeros = [Double](repeating: 0, count: x.count)
        let mf = try XCTUnwrap(MultiFidelityGP(inputs: x, distances: zeros, targets: y, hyperparameters: h))
        let single = try XCTUnwrap(GaussianProcess(inputs: x, targets: y, hyperparameters: base))
        let test = Self.points(6, seed: 3)
        let (m1, v1) = mf.predict(test), (m2, v2) = single.predict(test)
        XCTAssertEqual(m1, m2)
        XCTAssertEqual(v1, v2)
        let l1 = try XCTUnwrap(MultiFidelityGP.logMarginalLikelihood(inputs: x, distances: zeros, targets: y, hyperparameters: h))
        let l2 = try XCTUnwrap(GaussianProcess.logMarginalLikelihood(inputs: x, targets: y, hyperparameters: base))
        XCTAssertEqual(l1.value, l2.value)
        // The gradients agree to rounding: the single-fidelity GP sums the lengthscale terms in
        // another order.
        for (a, b) in zip(l1.gradient, l2.gradient) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b))) }
        XCTAssertEqual(l1.gradient.suffix(2).map(abs), [0, 0], "β and q cannot matter without cheap data")
    }

    /// 30 cheap points (z = 1, biased towards large x0) and 6 at the target: fitted, the
    /// multi-fidelity GP predicts the target better than a GP that pools both fidelities as if
    /// they were one, and better than a GP on the 6 target points alone.
    func testFittedModelLearnsAConfigurationDependentBias() throws {
        var errors: [String: [Double]] = ["multi": [], "pooled": [], "target only": []]
        for seed in UInt64(0)..<5 {
            let cheap = Self.points(30, seed: 10 + seed), exact = Self.points(6, seed: 20 + seed), test = Self.points(200, seed: 30 + seed)
            let x = cheap + exact
            let z = cheap.map { _ in 1.0 } + exact.map { _ in 0.0 }
            let y = cheap.map { Self.target($0) + Self.bias($0) } + exact.map(Self.target)
            let truth = test.map(Self.target)
            func rmse(_ m: [Double]) -> Double { (zip(m, truth).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(m.count)).squareRoot() }
            let (h, _) = MultiFidelityGP.fit(inputs: x, distances: z, targets: y, seed: seed)
            errors["multi"]!.append(rmse(try XCTUnwrap(MultiFidelityGP(inputs: x, distances: z, targets: y,
                                                                       hyperparameters: h)).predict(test).mean))
            let (hp, _) = GPFit.fit(inputs: x, targets: y, seed: seed)
            errors["pooled"]!.append(rmse(try XCTUnwrap(GaussianProcess(inputs: x, targets: y, hyperparameters: hp)).predict(test).mean))
            let (ht, _) = GPFit.fit(inputs: exact, targets: exact.map(Self.target), seed: seed)
            errors["target only"]!.append(rmse(try XCTUnwrap(GaussianProcess(inputs: exact, targets: exact.map(Self.target),
                                                                             hyperparameters: ht)).predict(test).mean))
        }
        let mean = errors.mapValues { $0.reduce(0, +) / Double($0.count) }
        print("target-fidelity RMSE over 5 seeds:",
              mean.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", "))
        XCTAssertLessThan(mean["multi"]!, 0.75 * mean["pooled"]!)
        XCTAssertLessThan(mean["multi"]!, 0.75 * mean["target only"]!)
    }
}
