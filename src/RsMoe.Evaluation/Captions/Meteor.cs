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
/// from statistics summed over images. Synonym (weight 0.8) and paraphrase (0.6, multi-word) matching run when
/// METEOR's WordNet files and paraphrase table are supplied (<see cref="FromDataDirectory"/>); they are not shipped,
/// and without them scores are at or below the official jar's.
/// </summary>
public sealed partial class Meteor
{
    const double Alpha = 0.85, Beta = 0.2, Gamma = 0.6, Delta = 0.75;
    const int BeamSize = 40;
    const int Exact = 0, Stem = 1, Synonym = 2, Paraphrase = 3;
    static readonly double[] ScoreWeights = [1.0, 0.6, 0.8, 0.6];   // exact, stem, synonym, paraphrase
    static readonly double[] SearchWeights = [1.0, 0.5, 0.5, 0.5];  // METEOR aligns with these, then scores with the task weights

    readonly IReadOnlySet<string> _functionWords;
    readonly MeteorSynonyms? _synonyms;
    readonly MeteorParaphrases? _paraphrases;
    readonly Dictionary<string, string> _stems = new(StringComparer.Ordinal);

    public MeteorModules Modules { get; }

    public Meteor(IReadOnlySet<string>? functionWords = null, string functionWordSource = "built-in English list",
        MeteorSynonyms? synonyms = null, MeteorParaphrases? paraphrases = null)
    {
        _functionWords = functionWords ?? MeteorFunctionWords.English;
        _synonyms = synonyms;
        _paraphrases = paraphrases;
        Modules = new MeteorModules(true, true, synonyms is not null, paraphrases is not null, functionWordSource);
    }

    /// <summary>
    /// Reads what METEOR 1.5's data folder holds (the jar's resources unpacked, plus the paraphrase table):
    /// <c>function/english.words</c>, <c>synonym/english.exceptions</c> + <c>synonym/english.synsets</c>, and
    /// <c>paraphrase-en.gz</c> (also looked for under <c>data/</c>). Each is used when present; at least one must be.
    /// </summary>
    public static Meteor FromDataDirectory(string? directory)
    {
        if (string.IsNullOrEmpty(directory)) return new Meteor();
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"METEOR data folder '{directory}' does not exist");
        string? Find(params string[] relative) => relative.Select(r => Path.Combine(directory, r)).FirstOrDefault(File.Exists);
        string? words = Find("function/english.words", "english.words");
        string? exceptions = Find("synonym/english.exceptions", "english.exceptions");
        string? synsets = Find("synonym/english.synsets", "english.synsets");
        string? paraphrase = Find("paraphrase-en.gz", "data/paraphrase-en.gz", "paraphrase-en");
        if (words is null && synsets is null && paraphrase is null)
            throw new FileNotFoundException($"no METEOR data (function/english.words, synonym/english.synsets, paraphrase-en.gz) under '{directory}'");
        return new Meteor(words is null ? null : MeteorFunctionWords.Load(words), words ?? "built-in English list",
            exceptions is not null && synsets is not null ? MeteorSynonyms.Load(exceptions, synsets) : null,
            paraphrase is null ? null : MeteorParaphrases.Load(paraphrase));
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

        public static Stats Zero => new(0, 0, 0, 0, new double[4], new double[4], new double[4], new double[4], 0, 0, 0);

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

    /// <summary>A match of candidate words [TestStart, +TestLength) to reference words [RefStart, +RefLength).</summary>
    sealed record Match(int TestStart, int TestLength, int RefStart, int RefLength, int Module);

    sealed class SearchPath
    {
        public required Match?[] Matches;
        public required bool[] TestUsed;
        public required bool[] ReferenceUsed;
        public double Weighted;
        public int Chunks, Distance, LastMatchEnd = -1, Index;

        public SearchPath Clone() => new()
        {
            Matches = (Match?[])Matches.Clone(), TestUsed = (bool[])TestUsed.Clone(), ReferenceUsed = (bool[])ReferenceUsed.Clone(),
            Weighted = Weighted, Chunks = Chunks, Distance = Distance, LastMatchEnd = LastMatchEnd, Index = Index,
        };

        public bool Free(Match m)
        {
            for (int k = 0; k < m.TestLength; k++) if (TestUsed[m.TestStart + k]) return false;
            for (int k = 0; k < m.RefLength; k++) if (ReferenceUsed[m.RefStart + k]) return false;
            return true;
        }

        public void Use(Match m)
        {
            for (int k = 0; k < m.TestLength; k++) TestUsed[m.TestStart + k] = true;
            for (int k = 0; k < m.RefLength; k++) ReferenceUsed[m.RefStart + k] = true;
            Matches[m.RefStart] = m;
        }
    }

    static int Compare(SearchPath a, SearchPath b)
    {
        int byMatches = b.Weighted.CompareTo(a.Weighted);
        if (byMatches != 0) return byMatches;
        int byChunks = a.Chunks.CompareTo(b.Chunks);
        return byChunks != 0 ? byChunks : a.Distance.CompareTo(b.Distance);
    }

    /// <summary>Every candidate match, by reference start, in METEOR's module order: exact, stem, synonym, paraphrase.</summary>
    List<Match>[] CandidateMatches(string[] test, string[] reference, int[] testCoverage, int[] refCoverage)
    {
        var byReference = Enumerable.Range(0, reference.Length).Select(_ => new List<Match>()).ToArray();
        void Add(Match m)
        {
            byReference[m.RefStart].Add(m);
            for (int k = 0; k < m.TestLength; k++) testCoverage[m.TestStart + k]++;
            for (int k = 0; k < m.RefLength; k++) refCoverage[m.RefStart + k]++;
        }
        for (int j = 0; j < reference.Length; j++)
            for (int i = 0; i < test.Length; i++)
                if (test[i] == reference[j]) Add(new Match(i, 1, j, 1, Exact));
        // Identical sentences need only exact matches (METEOR avoids beam-search errors this way).
        if (test.SequenceEqual(reference)) return byReference;
        for (int j = 0; j < reference.Length; j++)
            for (int i = 0; i < test.Length; i++)
                if (test[i] != reference[j] && StemOf(test[i]) == StemOf(reference[j])) Add(new Match(i, 1, j, 1, Stem));
        if (_synonyms is not null)
        {
            var testSets = test.Select(_synonyms.SynsetsOf).ToArray();
            var refSets = reference.Select(_synonyms.SynsetsOf).ToArray();
            for (int j = 0; j < reference.Length; j++)
                for (int i = 0; i < test.Length; i++)
                    if (test[i] != reference[j] && testSets[i].Overlaps(refSets[j])) Add(new Match(i, 1, j, 1, Synonym));
        }
        if (_paraphrases is not null)
        {
            // Paraphrases of reference phrases found in the candidate, then of candidate phrases found in the reference.
            for (int j = 0; j < reference.Length; j++)
                foreach (var (length, words) in _paraphrases.From(reference, j))
                    for (int i = 0; i + words.Length <= test.Length; i++)
                        if (test.AsSpan(i, words.Length).SequenceEqual(words)) Add(new Match(i, words.Length, j, length, Paraphrase));
            for (int i = 0; i < test.Length; i++)
                foreach (var (length, words) in _paraphrases.From(test, i))
                    for (int j = 0; j + words.Length <= reference.Length; j++)
                        if (reference.AsSpan(j, words.Length).SequenceEqual(words)) Add(new Match(i, length, j, words.Length, Paraphrase));
        }
        return byReference;
    }

    /// <summary>Aligns candidate (line 1) to reference (line 2) and returns the statistics.</summary>
    Stats Align(string[] test, string[] reference)
    {
        var testCoverage = new int[test.Length];
        var refCoverage = new int[reference.Length];
        var byReference = CandidateMatches(test, reference, testCoverage, refCoverage);

        var start = new SearchPath { Matches = new Match?[reference.Length], TestUsed = new bool[test.Length], ReferenceUsed = new bool[reference.Length] };
        // A match whose words have no other candidate is fixed before the search.
        for (int j = 0; j < reference.Length; j++)
        {
            if (byReference[j].Count != 1) continue;
            var m = byReference[j][0];
            bool alone = Enumerable.Range(m.RefStart, m.RefLength).All(k => refCoverage[k] == 1)
                && Enumerable.Range(m.TestStart, m.TestLength).All(k => testCoverage[k] == 1);
            if (alone) start.Use(m);
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
                    // Inside a span taken earlier, or the start of a fixed match.
                    if (current >= path.Index && path.Matches[current] is { } fixedMatch) Take(path, fixedMatch);
                    next.Add(path);
                    continue;
                }
                foreach (var m in byReference[current])
                {
                    if (!path.Free(m)) continue;
                    var extended = path.Clone();
                    extended.Use(m);
                    Take(extended, m);
                    // METEOR 1.5 adds this distance to the path it branched from; kept for identical tie-breaking.
                    path.Distance += Math.Abs(m.RefStart - m.TestStart);
                    next.Add(extended);
                }
                if (path.LastMatchEnd != -1) { path.Chunks++; path.LastMatchEnd = -1; }
                path.Index++;
                next.Add(path);
            }
            paths = next.Count > 0 ? next : [paths[0]];
        }
        paths.Sort(Compare);
        var best = paths[0];

        bool[] testFunction = test.Select(w => _functionWords.Contains(w)).ToArray();
        bool[] refFunction = reference.Select(w => _functionWords.Contains(w)).ToArray();
        var testContent = new double[4];
        var refContent = new double[4];
        var testFunctionMatches = new double[4];
        var refFunctionMatches = new double[4];
        int testMatched = 0, refMatched = 0;
        foreach (var m in best.Matches)
        {
            if (m is null) continue;
            for (int k = 0; k < m.TestLength; k++)
                if (testFunction[m.TestStart + k]) testFunctionMatches[m.Module]++; else testContent[m.Module]++;
            for (int k = 0; k < m.RefLength; k++)
                if (refFunction[m.RefStart + k]) refFunctionMatches[m.Module]++; else refContent[m.Module]++;
            testMatched += m.TestLength;
            refMatched += m.RefLength;
        }
        return new Stats(test.Length, reference.Length, testFunction.Count(f => f), refFunction.Count(f => f),
            testContent, refContent, testFunctionMatches, refFunctionMatches, CountChunks(best.Matches), testMatched, refMatched);
    }

    static void Take(SearchPath path, Match m)
    {
        path.Weighted += (m.TestLength + m.RefLength) * SearchWeights[m.Module];
        if (path.LastMatchEnd != -1 && m.TestStart != path.LastMatchEnd) path.Chunks++;
        path.Index = m.RefStart + m.RefLength;
        path.LastMatchEnd = m.TestStart + m.TestLength;
        path.Distance += Math.Abs(m.RefStart - m.TestStart);
    }

    static int CountChunks(Match?[] matches)
    {
        int chunks = 0, lastEnd = -1, index = 0;
        while (index < matches.Length)
        {
            var m = matches[index];
            if (m is null)
            {
                if (lastEnd != -1) { chunks++; lastEnd = -1; }
                index++;
                continue;
            }
            if (lastEnd != -1 && m.TestStart != lastEnd) chunks++;
            index = m.RefStart + m.RefLength;
            lastEnd = m.TestStart + m.TestLength;
        }
        return lastEnd != -1 ? chunks + 1 : chunks;
    }
}
