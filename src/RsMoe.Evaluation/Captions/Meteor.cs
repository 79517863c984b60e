using System.Text.RegularExpressions;

namespace RsMoe.Evaluation.Captions;

/// <summary>Which METEOR matching modules ran, and with which data.</summary>
public sealed record MeteorModules(bool Exact, bool Stem, bool Synonym, bool Paraphrase, string FunctionWords)
{
    public override string ToString() =>
        string.Join("+", new[] { Exact ? "exact" : null, Stem ? "stem" : null, Synonym ? "synonym" : null, Paraphrase ? "paraphrase" : null }.Where(m => m is not null))
        + $" (function words: {FunctionWords})";
}

/// <summary>
/// METEOR 1.5 with the English ranking parameters (α 0.85, β 0.2, γ 0.6, δ 0.75; module weights exact 1.0, stem 0.6):
/// exact and Snowball-stem matching, METEOR's beam search for the alignment (beam 40; more matches, then fewer
/// chunks, then less distance), δ-weighted precision and recall over content and function words, and the
/// fragmentation penalty. Several references: the first with the strictly best score. The corpus score comes
/// from statistics summed over images. Synonym and paraphrase matching need WordNet and the paraphrase table,
/// which are not shipped: without them scores are at or below the official jar's.
/// </summary>
public sealed partial class Meteor
{
    const double Alpha = 0.85, Beta = 0.2, Gamma = 0.6, Delta = 0.75;
    const int BeamSize = 40;
    static readonly double[] ScoreWeights = [1.0, 0.6];   // exact, stem
    static readonly double[] SearchWeights = [1.0, 0.5];  // METEOR aligns with 1.0 / 0.5, then scores with the task weights

    readonly IReadOnlySet<string> _functionWords;
    readonly Dictionary<string, string> _stems = new(StringComparer.Ordinal);

    public MeteorModules Modules { get; }

    public Meteor(IReadOnlySet<string>? functionWords = null, string functionWordSource = "built-in English list")
    {
        _functionWords = functionWords ?? MeteorFunctionWords.English;
        Modules = new MeteorModules(true, true, false, false, functionWordSource);
    }

    /// <summary>Uses <c>DIR/function/english.words</c> (or <c>DIR/english.words</c>) from METEOR's data when present.</summary>
    public static Meteor FromDataDirectory(string? directory)
    {
        if (string.IsNullOrEmpty(directory)) return new Meteor();
        foreach (var candidate in new[] { Path.Combine(directory, "function", "english.words"), Path.Combine(directory, "english.words") })
            if (File.Exists(candidate)) return new Meteor(MeteorFunctionWords.Load(candidate), candidate);
        throw new FileNotFoundException($"no METEOR function-word file (function/english.words) under '{directory}'");
    }

    /// <summary>Sufficient statistics of one candidate/reference pair; they add over a corpus.</summary>
    public sealed record Stats(double TestLength, double ReferenceLength, double TestFunctionWords, double ReferenceFunctionWords,
        double[] TestContentMatches, double[] ReferenceContentMatches, double[] TestFunctionMatches, double[] ReferenceFunctionMatches,
        double Chunks, double TestWordMatches, double ReferenceWordMatches)
    {
        public static Stats operator +(Stats a, Stats b) => new(
            a.TestLength + b.TestLength, a.ReferenceLength + b.ReferenceLength, a.TestFunctionWords + b.TestFunctionWords,
            a.ReferenceFunctionWords + b.ReferenceFunctionWords, Add(a.TestContentMatches, b.TestContentMatches),
            Add(a.ReferenceContentMatches, b.ReferenceContentMatches), Add(a.TestFunctionMatches, b.TestFunctionMatches),
            Add(a.ReferenceFunctionMatches, b.ReferenceFunctionMatches), a.Chunks + b.Chunks,
            a.TestWordMatches + b.TestWordMatches, a.ReferenceWordMatches + b.ReferenceWordMatches);

        static double[] Add(double[] x, double[] y) => x.Zip(y, (p, q) => p + q).ToArray();

        public static Stats Zero => new(0, 0, 0, 0, new double[2], new double[2], new double[2], new double[2], 0, 0, 0);

        public double Score()
        {
            double testWeightedLength = Delta * (TestLength - TestFunctionWords) + (1 - Delta) * TestFunctionWords;
            double refWeightedLength = Delta * (ReferenceLength - ReferenceFunctionWords) + (1 - Delta) * ReferenceFunctionWords;
            double testMatches = 0, refMatches = 0;
            for (int m = 0; m < ScoreWeights.Length; m++)
            {
                testMatches += TestContentMatches[m] * ScoreWeights[m] * Delta + TestFunctionMatches[m] * ScoreWeights[m] * (1 - Delta);
                refMatches += ReferenceContentMatches[m] * ScoreWeights[m] * Delta + ReferenceFunctionMatches[m] * ScoreWeights[m] * (1 - Delta);
            }
            double precision = testMatches / testWeightedLength, recall = refMatches / refWeightedLength;
            double fMean = 1.0 / ((1 - Alpha) / precision + Alpha / recall);
            double testTotal = TestContentMatches.Sum() + TestFunctionMatches.Sum();
            double refTotal = ReferenceContentMatches.Sum() + ReferenceFunctionMatches.Sum();
            double fragmentation = testTotal == TestLength && refTotal == ReferenceLength && Chunks == 1
                ? 0
                : Chunks / ((TestWordMatches + ReferenceWordMatches) / 2);
            double score = fMean * (1 - Gamma * Math.Pow(fragmentation, Beta));
            return double.IsNaN(score) ? 0 : Math.Max(score, 0);
        }
    }

    /// <summary>METEOR's <c>-norm</c>: lower-case and split punctuation as mteval's tokenizer does.</summary>
    public static string[] Normalize(string text)
    {
        string s = text.ToLowerInvariant();
        s = PunctuationToSplit().Replace(s, " $1 ");
        s = PeriodCommaAfterNonDigit().Replace(s, "$1 $2 ");
        s = PeriodCommaBeforeNonDigit().Replace(s, " $1 $2");
        s = DashAfterDigit().Replace(s, "$1 $2 ");
        return s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    [GeneratedRegex(@"([\{-\~\[-\` -\&\(-\+\:-\@\/])")]
    private static partial Regex PunctuationToSplit();
    [GeneratedRegex(@"([^0-9])([\.,])")]
    private static partial Regex PeriodCommaAfterNonDigit();
    [GeneratedRegex(@"([\.,])([^0-9])")]
    private static partial Regex PeriodCommaBeforeNonDigit();
    [GeneratedRegex(@"([0-9])(-)")]
    private static partial Regex DashAfterDigit();

    /// <summary>The best reference's statistics for one candidate (the first with the strictly best score).</summary>
    public Stats Best(string candidate, IEnumerable<string> references)
    {
        var test = Normalize(candidate);
        Stats? best = null;
        double bestScore = -1;
        foreach (var reference in references)
        {
            var stats = Align(test, Normalize(reference));
            double score = stats.Score();
            if (score > bestScore) { best = stats; bestScore = score; }
        }
        return best ?? Stats.Zero;
    }

    public (double Corpus, Dictionary<string, double> PerImage) Compute(
        IReadOnlyDictionary<string, string> candidates, IReadOnlyDictionary<string, IReadOnlyList<string>> references)
    {
        var total = Stats.Zero;
        var perImage = new Dictionary<string, double>();
        foreach (var (id, candidate) in candidates)
        {
            var stats = Best(candidate, references[id]);
            perImage[id] = stats.Score();
            total += stats;
        }
        return (candidates.Count == 0 ? 0 : total.Score(), perImage);
    }

    string StemOf(string word)
    {
        if (!_stems.TryGetValue(word, out var stem)) _stems[word] = stem = SnowballEnglishStemmer.Stem(word);
        return stem;
    }

    sealed record Match(int TestIndex, int ReferenceIndex, int Module);

    sealed class SearchPath
    {
        public required Match?[] Matches;
        public required bool[] TestUsed;
        public required bool[] ReferenceUsed;
        public double Weighted;
        public int Chunks, Distance, LastMatchEnd = -1;

        public SearchPath Clone() => new()
        {
            Matches = (Match?[])Matches.Clone(), TestUsed = (bool[])TestUsed.Clone(), ReferenceUsed = (bool[])ReferenceUsed.Clone(),
            Weighted = Weighted, Chunks = Chunks, Distance = Distance, LastMatchEnd = LastMatchEnd,
        };
    }

    static int Compare(SearchPath a, SearchPath b)
    {
        int byMatches = b.Weighted.CompareTo(a.Weighted);
        if (byMatches != 0) return byMatches;
        int byChunks = a.Chunks.CompareTo(b.Chunks);
        return byChunks != 0 ? byChunks : a.Distance.CompareTo(b.Distance);
    }

    /// <summary>Aligns candidate (line 1) to reference (line 2) and returns the statistics.</summary>
    Stats Align(string[] test, string[] reference)
    {
        // Candidate matches per reference position, exact first (in candidate order), then stem.
        var byReference = Enumerable.Range(0, reference.Length).Select(_ => new List<Match>()).ToArray();
        var testCoverage = new int[test.Length];
        var refCoverage = new int[reference.Length];
        bool identical = test.SequenceEqual(reference);
        for (int j = 0; j < reference.Length; j++)
            for (int i = 0; i < test.Length; i++)
                if (test[i] == reference[j]) { byReference[j].Add(new Match(i, j, 0)); testCoverage[i]++; refCoverage[j]++; }
        if (!identical)
            for (int j = 0; j < reference.Length; j++)
                for (int i = 0; i < test.Length; i++)
                    if (test[i] != reference[j] && StemOf(test[i]) == StemOf(reference[j]))
                    { byReference[j].Add(new Match(i, j, 1)); testCoverage[i]++; refCoverage[j]++; }

        var start = new SearchPath { Matches = new Match?[reference.Length], TestUsed = new bool[test.Length], ReferenceUsed = new bool[reference.Length] };
        // Matches whose words have no other candidate are fixed before the search.
        for (int j = 0; j < reference.Length; j++)
            if (byReference[j].Count == 1 && refCoverage[j] == 1 && testCoverage[byReference[j][0].TestIndex] == 1)
            {
                var m = byReference[j][0];
                start.Matches[j] = m;
                start.ReferenceUsed[j] = true;
                start.TestUsed[m.TestIndex] = true;
            }

        var paths = new List<SearchPath> { start };
        for (int current = 0; current <= reference.Length; current++)
        {
            paths.Sort(Compare);
            var next = new List<SearchPath>();
            foreach (var path in paths.Take(BeamSize))
            {
                if (current == reference.Length)
                {
                    if (path.LastMatchEnd != -1) path.Chunks++;
                    next.Add(path);
                    continue;
                }
                if (path.ReferenceUsed[current])
                {
                    var fixedMatch = path.Matches[current];
                    if (fixedMatch is not null) Take(path, fixedMatch);
                    next.Add(path);
                    continue;
                }
                foreach (var m in byReference[current])
                {
                    if (path.TestUsed[m.TestIndex]) continue;
                    var extended = path.Clone();
                    extended.TestUsed[m.TestIndex] = true;
                    extended.ReferenceUsed[current] = true;
                    extended.Matches[current] = m;
                    Take(extended, m);
                    // METEOR 1.5 adds this distance to the path it branched from; kept for identical tie-breaking.
                    path.Distance += Math.Abs(m.ReferenceIndex - m.TestIndex);
                    next.Add(extended);
                }
                if (path.LastMatchEnd != -1) { path.Chunks++; path.LastMatchEnd = -1; }
                next.Add(path);
            }
            paths = next.Count > 0 ? next : [paths[0]];
        }
        paths.Sort(Compare);
        var best = paths[0];

        bool[] testFunction = test.Select(w => _functionWords.Contains(w)).ToArray();
        bool[] refFunction = reference.Select(w => _functionWords.Contains(w)).ToArray();
        var testContent = new double[2];
        var refContent = new double[2];
        var testFunctionMatches = new double[2];
        var refFunctionMatches = new double[2];
        int matched = 0;
        foreach (var m in best.Matches)
        {
            if (m is null) continue;
            matched++;
            if (testFunction[m.TestIndex]) testFunctionMatches[m.Module]++; else testContent[m.Module]++;
            if (refFunction[m.ReferenceIndex]) refFunctionMatches[m.Module]++; else refContent[m.Module]++;
        }
        return new Stats(test.Length, reference.Length, testFunction.Count(f => f), refFunction.Count(f => f),
            testContent, refContent, testFunctionMatches, refFunctionMatches, CountChunks(best.Matches), matched, matched);
    }

    static void Take(SearchPath path, Match m)
    {
        path.Weighted += 2 * SearchWeights[m.Module];
        if (path.LastMatchEnd != -1 && m.TestIndex != path.LastMatchEnd) path.Chunks++;
        path.LastMatchEnd = m.TestIndex + 1;
        path.Distance += Math.Abs(m.ReferenceIndex - m.TestIndex);
    }

    static int CountChunks(Match?[] matches)
    {
        int chunks = 0, lastEnd = -1;
        foreach (var m in matches)
        {
            if (m is null)
            {
                if (lastEnd != -1) { chunks++; lastEnd = -1; }
                continue;
            }
            if (lastEnd != -1 && m.TestIndex != lastEnd) chunks++;
            lastEnd = m.TestIndex + 1;
        }
        return lastEnd != -1 ? chunks + 1 : chunks;
    }
}
