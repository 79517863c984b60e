using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Training;

/// <summary>
/// Stage I's scene loss: a linear classifier that names the image's scene class among its own data set's classes from
/// one pooled state per example: the mean of the visual prefix (the projected Q-Former queries), or the language model's
/// caption state (<see cref="CaptionLoss.LossAndCaptionState"/>). Our Q-Former starts from scratch, where the paper's
/// comes from BLIP-2's representation-learning stage (image-text contrastive and matching losses); the data sets'
/// class labels give it that discriminative signal, so the theme expert has a scene to name. Training only: the
/// classifier is not part of the saved model.
/// </summary>
public sealed class SceneClassifier : nn.Module<Tensor, Tensor>
{
    readonly Linear classifier;
    readonly Dictionary<string, int> _indexOf;
    readonly string[] _datasetOf;

    /// <param name="scenes">Every scene the examples name, as "dataset:class".</param>
    /// <param name="hiddenSize">Width of the pooled state (the LLM's hidden size).</param>
    public SceneClassifier(IEnumerable<string> scenes, long hiddenSize) : base(nameof(SceneClassifier))
    {
        var classes = scenes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (classes.Length == 0) throw new ArgumentException("no scene classes");
        _indexOf = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        _datasetOf = classes.Select(DatasetOf).ToArray();
        classifier = nn.Linear(hiddenSize, classes.Length);
        RegisterComponents();
    }

    public int Classes => _datasetOf.Length;

    /// <summary>Pooled states [B, hidden] to scene logits [B, classes].</summary>
    public override Tensor forward(Tensor pooled) => classifier.forward(pooled);

    /// <summary>
    /// Mean cross-entropy over the rows that name a scene, each among its own data set's classes (UCM's "agricultural"
    /// and RSICD's "farmland" never compete); zero when no row names one.
    /// </summary>
    public Tensor Loss(Tensor pooled, IReadOnlyList<string?> scenes)
    {
        var rows = Enumerable.Range(0, scenes.Count).Where(i => scenes[i] is not null).ToArray();
        if (rows.Length == 0) return zeros(1, device: pooled.device).squeeze();
        var mask = new float[rows.Length * Classes];
        for (int r = 0; r < rows.Length; r++)
        {
            string dataset = DatasetOf(scenes[rows[r]]!);
            for (int c = 0; c < Classes; c++) mask[r * Classes + c] = _datasetOf[c] == dataset ? 0f : -1e9f;
        }
        var targets = rows.Select(i => _indexOf.TryGetValue(scenes[i]!, out int c) ? (long)c
            : throw new ArgumentException($"scene '{scenes[i]}' was not among the classifier's classes")).ToArray();
        var logits = forward(pooled.index_select(0, tensor(rows.Select(i => (long)i).ToArray(), device: pooled.device))).to(ScalarType.Float32);
        return nn.functional.cross_entropy(logits + tensor(mask, [rows.Length, Classes], device: pooled.device), tensor(targets, device: pooled.device));
    }

    static string DatasetOf(string scene) => scene.IndexOf(':') is int colon and > 0 ? scene[..colon]
        : throw new ArgumentException($"scene '{scene}' is not 'dataset:class'");
}
