namespace RsMoe.Training;

/// <summary>
/// Published caption scores (×100) that the model card sets beside ours. Quoted, not measured here: Lin et al. 2024
/// (RS-MoE), Table II (UCM-captions) and Table IV (RSICD), as reproduced in ../shared/docs/rs-moe-paper.md.
/// </summary>
public static class PublishedResults
{
    public sealed record Row(string Method, double Bleu1, double Bleu2, double Bleu3, double Bleu4, double Meteor, double RougeL, double Cider);

    public const string Source = "Lin et al. 2024, RS-MoE, Table II (UCM-captions) and Table IV (RSICD)";

    public static readonly IReadOnlyDictionary<string, IReadOnlyList<Row>> ByBenchmark = new Dictionary<string, IReadOnlyList<Row>>
    {
        ["ucm"] =
        [
            new("Soft-attention", 74.54, 65.45, 58.55, 52.50, 38.86, 72.37, 261.24),
            new("Hard-attention", 81.57, 73.12, 67.02, 61.82, 42.63, 76.98, 299.47),
            new("SAA", 79.62, 74.01, 69.09, 64.77, 38.59, 69.42, 294.51),
            new("RS-MoE-7B (w/o fine-tuning)", 94.81, 87.09, 79.57, 72.34, 66.97, 62.74, 396.46),
        ],
        ["rsicd"] =
        [
            new("Soft-attention", 65.13, 49.04, 39.00, 32.30, 26.39, 49.69, 90.58),
            new("MLAT", 66.90, 51.13, 41.14, 34.21, 27.31, 50.57, 94.27),
            new("SAA", 59.35, 45.11, 35.29, 28.08, 26.11, 49.57, 132.35),
            new("RS-MoE-7B (w/o fine-tuning)", 78.61, 63.60, 51.44, 43.35, 39.30, 60.77, 109.46),
        ],
    };
}
