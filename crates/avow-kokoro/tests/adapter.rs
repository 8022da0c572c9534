//! Speaker adapters: every style affine layer is reachable by name, an
//! adapter changes exactly what it names, an empty adapter changes nothing,
//! a mismatched adapter is refused, a pitch shift scales only F0, and
//! gradients reach a trainable bias swapped in through the visitor (what
//! voice banking trains).
//!
//! Needs the converted weights (see `common::weights_path`).

mod common;

use avow_kokoro::StyleAdapter;
use candle_core::{Device, Tensor, Var};
use common::{fixtures, ids, model};

#[test]
fn the_visitor_reaches_all_73_style_affines_of_predictor_and_decoder() {
    let Some(model) = model() else { return };
    let mut model = model.clone();
    let (mut names, mut params) = (Vec::new(), 0usize);
    model
        .visit_style_affines(&mut |name, layer| {
            names.push(name.to_string());
            params += layer.bias().expect("style affines have biases").dim(0)?;
            Ok(())
        })
        .unwrap();
    assert_eq!(names.len(), 73, "{names:?}");
    assert_eq!(params, 49_684);
    assert!(names.contains(&"predictor.text_encoder.lstms.5.fc".to_string()));
    assert!(names.contains(&"decoder.generator.noise_res.1.adain2.2.fc".to_string()));
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "names must be unique");
}

#[test]
fn an_adapter_changes_the_audio_and_an_empty_one_does_not() {
    let Some(model) = model() else { return };
    let case = fixtures().into_iter().min_by_key(|c| c.tokens.len()).unwrap();
    let ids = ids(&case);
    let style = Tensor::new(case.style.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let render = |m: &avow_kokoro::KModel| -> Vec<f32> {
        m.render(&ids, &style, &case.durations).unwrap().squeeze(0).unwrap().to_vec1().unwrap()
    };
    let base = render(&model);
    assert_eq!(render(&model.adapted(&StyleAdapter::default()).unwrap()), base);

    // Lift the gain of one decoder block's first norm (first half of its fc output).
    let offset: Vec<f32> = (0..2180).map(|i| if i < 1090 { 0.5 } else { 0.0 }).collect();
    let adapter = StyleAdapter::from_offsets([("decoder.decode.0.norm1.fc".to_string(), offset)]);
    let adapted = model.adapted(&adapter).unwrap();
    let changed = render(&adapted);
    let diff: f32 = changed.iter().zip(&base).map(|(a, b)| (a - b).abs()).sum::<f32>() / base.len() as f32;
    assert!(diff > 1e-4, "the adapter had no effect (mean abs diff {diff})");
    // The base model is untouched: adaptation copies, it does not mutate.
    assert_eq!(render(&model), base);

    // Round trip through the voice-pack tensor form.
    let back = StyleAdapter::from_tensors(&adapter.to_tensors()).unwrap();
    assert_eq!(back, adapter);
}

#[test]
fn a_pitch_shift_scales_the_f0_curve_and_nothing_else() {
    let Some(model) = model() else { return };
    let case = fixtures().into_iter().min_by_key(|c| c.tokens.len()).unwrap();
    let ids = ids(&case);
    let style = Tensor::new(case.style.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let (f0, energy) = model.f0_energy(&ids, &style, &case.durations).unwrap();
    let adapter = StyleAdapter::default().with_pitch_shift(-2.0).unwrap();
    assert!(!adapter.is_empty() && adapter.parameters() == 1);
    let shifted = model.adapted(&adapter).unwrap();
    let (f0_low, energy_low) = shifted.f0_energy(&ids, &style, &case.durations).unwrap();
    let ratio = 2f32.powf(-2.0 / 12.0);
    for (a, b) in f0_low.iter().zip(&f0) {
        assert!((a - b * ratio).abs() <= 1e-4 * b.abs().max(1.0), "{a} is not {b} × {ratio}");
    }
    assert_eq!(energy_low, energy, "a pitch shift must leave energy alone");
    // Durations come from the same predictor and must not move either.
    assert_eq!(shifted.predict_durations(&ids, &style, 1.0).unwrap(), model.predict_durations(&ids, &style, 1.0).unwrap());
    // The base model is untouched, and the shift survives the voice-pack form.
    assert_eq!(model.f0_energy(&ids, &style, &case.durations).unwrap().0, f0);
    let back = StyleAdapter::from_tensors(&adapter.to_tensors()).unwrap();
    assert_eq!(back.pitch_shift(), -2.0);
    assert_eq!(shifted.f0_energy(&ids, &style, &case.durations).unwrap().0, model.adapted(&back).unwrap().f0_energy(&ids, &style, &case.durations).unwrap().0);
}

#[test]
fn pitch_shifts_that_are_not_one_finite_value_within_an_octave_are_refused() {
    for bad in [f32::NAN, f32::INFINITY, 12.5, -13.0] {
        assert!(StyleAdapter::default().with_pitch_shift(bad).is_err(), "{bad} accepted");
    }
    assert!(StyleAdapter::default().with_pitch_shift(12.0).is_ok());
    let tensor = |shape: Vec<usize>, values: Vec<f32>| vec![(avow_kokoro::adapter::PITCH_TENSOR.to_string(), shape, values)];
    assert!(StyleAdapter::from_tensors(&tensor(vec![2], vec![1.0, 2.0])).is_err(), "two values");
    assert!(StyleAdapter::from_tensors(&tensor(vec![1, 1], vec![1.0])).is_err(), "two dimensions");
    assert!(StyleAdapter::from_tensors(&tensor(vec![1], vec![40.0])).is_err(), "over an octave");
    assert!(StyleAdapter::from_tensors(&tensor(vec![1], vec![f32::NAN])).is_err());
    let mut twice = tensor(vec![1], vec![1.0]);
    twice.extend(tensor(vec![1], vec![2.0]));
    assert!(StyleAdapter::from_tensors(&twice).is_err(), "two pitch tensors");
    assert!(StyleAdapter::from_tensors(&tensor(vec![1], vec![0.0])).unwrap().is_empty());
    assert!(StyleAdapter::default().to_tensors().is_empty(), "no shift, no tensor");
}

#[test]
fn adapters_that_do_not_fit_the_model_are_refused() {
    let Some(model) = model() else { return };
    let unknown = StyleAdapter::from_offsets([("decoder.decode.9.norm1.fc".to_string(), vec![0.0; 2180])]);
    let err = model.adapted(&unknown).unwrap_err().to_string();
    assert!(err.contains("decoder.decode.9.norm1.fc"), "{err}");
    let wrong_size = StyleAdapter::from_offsets([("decoder.decode.0.norm1.fc".to_string(), vec![0.0; 7])]);
    assert!(model.adapted(&wrong_size).is_err());
    let bad_name = vec![("style.decoder.decode.0.norm1.fc".to_string(), vec![3], vec![0.0; 3])];
    assert!(StyleAdapter::from_tensors(&bad_name).is_err());
    let nan = vec![("adapter.decoder.decode.0.norm1.fc.bias".to_string(), vec![2], vec![0.0, f32::NAN])];
    assert!(StyleAdapter::from_tensors(&nan).is_err());
}

#[test]
fn gradients_reach_a_trainable_bias_swapped_in_by_the_visitor() {
    let Some(model) = model() else { return };
    let case = fixtures().into_iter().min_by_key(|c| c.tokens.len()).unwrap();
    let ids = ids(&case);
    let style = Tensor::new(case.style.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let mut trainable = model.clone();
    let mut vars = Vec::new();
    trainable
        .visit_style_affines(&mut |name, layer| {
            if name == "decoder.generator.resblocks.0.adain1.0.fc" || name == "predictor.F0.0.norm1.fc" {
                let var = Var::from_tensor(layer.bias().unwrap())?;
                layer.set_bias(var.as_tensor().clone())?;
                vars.push(var);
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(vars.len(), 2);
    let audio = trainable.render(&ids, &style, &case.durations).unwrap();
    let loss = audio.sqr().unwrap().mean_all().unwrap();
    let grads = loss.backward().unwrap();
    for var in &vars {
        let g: Vec<f32> = grads.get(var).expect("no gradient reached the bias").to_vec1().unwrap();
        assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|v| *v != 0.0));
    }
}
